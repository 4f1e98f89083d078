<?php
/**
 * A minimal stand-in for the 1C-Bitrix classes webhook_integration.php and
 * hookflow_order_update.php call, for tests only. Method names, signatures
 * and event parameters follow the Bitrix D7 API (\Bitrix\Main\EventManager,
 * \Bitrix\Main\Event, \Bitrix\Sale\Order, ...); behaviour is reduced to what
 * the handler needs. Orders live in \HookflowShim\Store, optionally backed by
 * a JSON file so several PHP processes (the built-in web server) share them.
 */

namespace Bitrix\Main {

    class EventManager
    {
        private static $instance;
        private $handlers = array();
        private $next = 1;

        public static function getInstance()
        {
            if (!self::$instance) {
                self::$instance = new self();
            }
            return self::$instance;
        }

        public function addEventHandler($fromModuleId, $eventType, $callback, $includeFile = false, $sort = 100)
        {
            $key = $this->next++;
            $this->handlers[strtoupper($fromModuleId)][strtoupper($eventType)][$key] = array('CALLBACK' => $callback, 'SORT' => $sort);
            return $key;
        }

        public function findEventHandlers($fromModuleId, $eventType)
        {
            $list = isset($this->handlers[strtoupper($fromModuleId)][strtoupper($eventType)])
                ? $this->handlers[strtoupper($fromModuleId)][strtoupper($eventType)] : array();
            uasort($list, function ($a, $b) { return $a['SORT'] - $b['SORT']; });
            return $list;
        }
    }

    class Event
    {
        private $moduleId;
        private $type;
        private $parameters;
        private $results = array();

        public function __construct($moduleId, $type, $parameters = array(), $filter = null)
        {
            $this->moduleId = $moduleId;
            $this->type = $type;
            $this->parameters = $parameters;
        }

        public function getModuleId() { return $this->moduleId; }
        public function getEventType() { return $this->type; }
        public function getParameters() { return $this->parameters; }

        public function getParameter($key)
        {
            return isset($this->parameters[$key]) ? $this->parameters[$key] : null;
        }

        public function send($sender = null)
        {
            foreach (EventManager::getInstance()->findEventHandlers($this->moduleId, $this->type) as $handler) {
                $result = call_user_func($handler['CALLBACK'], $this);
                if ($result !== null) {
                    $this->results[] = $result;
                }
            }
        }

        /** @return EventResult[] */
        public function getResults() { return $this->results; }
    }

    class EventResult
    {
        const UNDEFINED = 0;
        const SUCCESS = 1;
        const ERROR = 2;

        private $type;
        private $parameters;
        private $moduleId;

        public function __construct($type = self::SUCCESS, $parameters = null, $moduleId = null, $handler = null)
        {
            $this->type = $type;
            $this->parameters = $parameters;
            $this->moduleId = $moduleId;
        }

        public function getType() { return $this->type; }
        public function getParameters() { return $this->parameters; }
        public function getModuleId() { return $this->moduleId; }
    }

    class Loader
    {
        public static function includeModule($moduleName) { return true; }
    }

    class Error
    {
        private $message;
        private $code;

        public function __construct($message, $code = 0)
        {
            $this->message = $message;
            $this->code = $code;
        }

        public function getMessage() { return $this->message; }
        public function getCode() { return $this->code; }
    }

    class Result
    {
        private $errors = array();

        public function isSuccess() { return !$this->errors; }
        public function addError(Error $error) { $this->errors[] = $error; return $this; }
        public function getErrors() { return $this->errors; }

        public function getErrorMessages()
        {
            return array_map(function ($e) { return $e->getMessage(); }, $this->errors);
        }
    }
}

namespace Bitrix\Main\Type {

    /** Bitrix dates print in the site format (d.m.Y) and format() like PHP. */
    class Date
    {
        const SITE_FORMAT = 'd.m.Y';

        /** @var \DateTime */
        protected $value;

        public function __construct($time = null, $format = null)
        {
            if ($time instanceof \DateTimeInterface) {
                $this->value = new \DateTime($time->format(DATE_ATOM));
            } elseif ($time === null || $time === '') {
                $this->value = new \DateTime();
            } else {
                $parsed = \DateTime::createFromFormat('!' . ($format ?: static::SITE_FORMAT), $time);
                if (!$parsed) {
                    throw new \InvalidArgumentException('bad date: ' . $time);
                }
                $this->value = $parsed;
            }
        }

        public function format($format) { return $this->value->format($format); }
        public function getTimestamp() { return $this->value->getTimestamp(); }
        public function toString() { return $this->value->format(static::SITE_FORMAT); }
        public function __toString() { return $this->toString(); }
    }

    class DateTime extends Date
    {
        const SITE_FORMAT = 'd.m.Y H:i:s';
    }
}

namespace Bitrix\Sale {

    use Bitrix\Main\Error;
    use Bitrix\Main\Event;
    use Bitrix\Main\Result;
    use Bitrix\Main\Type\DateTime;

    class OrderStatus
    {
        /** Status ids keyed by id, like the real method. */
        public static function getAllStatuses()
        {
            $out = array();
            foreach (\HookflowShim\Store::$statuses as $id) {
                $out[$id] = $id;
            }
            return $out;
        }
    }

    class Collection implements \IteratorAggregate, \Countable
    {
        protected $items = array();

        public function __construct(array $items) { $this->items = $items; }
        public function getIterator(): \Iterator { return new \ArrayIterator($this->items); }
        public function count(): int { return count($this->items); }
    }

    class Entity
    {
        protected $fields;

        public function __construct(array $fields) { $this->fields = $fields; }
        public function getField($name) { return array_key_exists($name, $this->fields) ? $this->fields[$name] : null; }
        public function getId() { return $this->getField('ID'); }
    }

    class BasketItem extends Entity
    {
        public function getProductId() { return $this->getField('PRODUCT_ID'); }
        public function getPrice() { return $this->getField('PRICE'); }
        public function getQuantity() { return $this->getField('QUANTITY'); }
        public function getCurrency() { return $this->getField('CURRENCY'); }
    }

    class Basket extends Collection
    {
        public function getBasketItems() { return $this->items; }
    }

    class PropertyValue extends Entity
    {
        public function getValue() { return $this->getField('VALUE'); }
        public function getPropertyId() { return $this->getField('ORDER_PROPS_ID'); }
    }

    class PropertyValueCollection extends Collection
    {
        public function getItemByOrderPropertyCode($code)
        {
            foreach ($this->items as $item) {
                if ($item->getField('CODE') === $code) {
                    return $item;
                }
            }
            return null;
        }
    }

    class Shipment extends Entity
    {
        public function isSystem() { return $this->getField('SYSTEM') === 'Y'; }
    }

    class ShipmentCollection extends Collection
    {
    }

    class Order extends Entity
    {
        const DATE_FIELDS = array('DATE_STATUS', 'DATE_INSERT', 'DATE_UPDATE');

        private $fixture;
        private $isNew;
        private $old = array();

        /** Builds an order from a fixture (see testdata/order_fixture.json). */
        public static function fromFixture(array $fixture)
        {
            $fields = $fixture['fields'];
            foreach (self::DATE_FIELDS as $f) {
                if (isset($fields[$f]) && is_string($fields[$f]) && $fields[$f] !== '') {
                    $fields[$f] = new DateTime($fields[$f]);
                }
            }
            $order = new self($fields);
            $order->fixture = $fixture;
            $order->isNew = !empty($fixture['is_new']);
            return $order;
        }

        public static function load($id)
        {
            $fixture = \HookflowShim\Store::get((int)$id);
            return $fixture ? self::fromFixture($fixture) : null;
        }

        public function isNew() { return $this->isNew; }

        public function setField($name, $value)
        {
            $result = new Result();
            if ($name === 'STATUS_ID' && !in_array($value, \HookflowShim\Store::$statuses, true)) {
                return $result->addError(new Error('status ' . $value . ' is not allowed'));
            }
            if (!array_key_exists($name, $this->old) && $this->getField($name) !== $value) {
                $this->old[$name] = $this->getField($name);
            }
            $this->fields[$name] = $value;
            return $result;
        }

        public function getBasket()
        {
            $items = array();
            foreach (isset($this->fixture['basket']) ? $this->fixture['basket'] : array() as $row) {
                $items[] = new BasketItem($row);
            }
            return new Basket($items);
        }

        public function getPropertyCollection()
        {
            $items = array();
            foreach (isset($this->fixture['properties']) ? $this->fixture['properties'] : array() as $row) {
                $items[] = new PropertyValue($row);
            }
            return new PropertyValueCollection($items);
        }

        public function getShipmentCollection()
        {
            $items = array();
            foreach (isset($this->fixture['shipments']) ? $this->fixture['shipments'] : array() as $row) {
                $items[] = new Shipment($row);
            }
            return new ShipmentCollection($items);
        }

        /**
         * Saves and fires the events in the order the sale module does:
         * OnSaleOrderSaved, then OnSaleStatusOrderChange when the status changed.
         */
        public function save()
        {
            $result = new Result();
            if (\HookflowShim\Store::$failSave !== '') {
                return $result->addError(new Error(\HookflowShim\Store::$failSave));
            }
            $old = $this->old;
            $now = new DateTime(new \DateTime('now'));
            if (array_key_exists('STATUS_ID', $old)) {
                $old['DATE_STATUS'] = $this->getField('DATE_STATUS');
                $this->fields['DATE_STATUS'] = $now;
            }
            if ($old || $this->isNew) {
                $old['DATE_UPDATE'] = $this->getField('DATE_UPDATE');
                $this->fields['DATE_UPDATE'] = $now;
            }
            $fixture = $this->fixture;
            foreach ($this->fields as $k => $v) {
                $fixture['fields'][$k] = $v instanceof DateTime ? $v->toString() : $v;
            }
            unset($fixture['is_new'], $fixture['old_values']);
            \HookflowShim\Store::put($fixture);

            $isNew = $this->isNew;
            $this->isNew = false;
            $this->old = array();
            $event = new Event('sale', 'OnSaleOrderSaved', array('ENTITY' => $this, 'IS_NEW' => $isNew, 'VALUES' => $old));
            $event->send();
            if (array_key_exists('STATUS_ID', $old)) {
                $event = new Event('sale', 'OnSaleStatusOrderChange', array(
                    'ENTITY' => $this, 'VALUE' => $this->getField('STATUS_ID'), 'OLD_VALUE' => $old['STATUS_ID'],
                ));
                $event->send();
            }
            return $result;
        }
    }
}

namespace HookflowShim {

    /** The shim's order store, optionally persisted to a JSON file. */
    class Store
    {
        public static $orders = array();
        public static $statuses = array('N', 'P', 'F', 'S', 'D');
        /** Non-empty: Order::save() fails with this message. */
        public static $failSave = '';
        private static $file = '';

        /** Loads {"statuses":[..],"fail_save":"..","orders":[fixture,..]} from $file. */
        public static function open($file)
        {
            self::$file = (string)$file;
            if (self::$file === '' || !is_file(self::$file)) {
                return;
            }
            $data = json_decode(file_get_contents(self::$file), true);
            if (!is_array($data)) {
                throw new \RuntimeException('shim store is not JSON: ' . self::$file);
            }
            if (isset($data['statuses'])) {
                self::$statuses = $data['statuses'];
            }
            self::$failSave = isset($data['fail_save']) ? (string)$data['fail_save'] : '';
            self::$orders = array();
            foreach (isset($data['orders']) ? $data['orders'] : array() as $fixture) {
                self::$orders[(int)$fixture['fields']['ID']] = $fixture;
            }
        }

        public static function get($id)
        {
            return isset(self::$orders[$id]) ? self::$orders[$id] : null;
        }

        public static function put(array $fixture)
        {
            self::$orders[(int)$fixture['fields']['ID']] = $fixture;
            if (self::$file === '') {
                return;
            }
            $data = array('statuses' => self::$statuses, 'fail_save' => self::$failSave, 'orders' => array_values(self::$orders));
            file_put_contents(self::$file, json_encode($data, JSON_UNESCAPED_UNICODE | JSON_PRETTY_PRINT), LOCK_EX);
        }
    }
}
