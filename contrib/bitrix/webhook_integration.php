<?php
/**
 * hookflow: order webhooks from a 1C-Bitrix shop.
 *
 * Posts every saved order (OnSaleOrderSaved) to
 *   {HOOKFLOW_WEBHOOK_URL}/api/webhooks/bitrix/order
 * and every status change (OnSaleStatusOrderChange) to
 *   {HOOKFLOW_WEBHOOK_URL}/api/webhooks/bitrix/status
 * as JSON with the header X-Webhook-Token, and appends one line per attempt
 * to /upload/webhook_log.txt. The JSON contract is in README.md.
 *
 * Install: copy to /local/php_interface/webhook_integration.php and add to
 * /local/php_interface/init.php:
 *
 *   define('HOOKFLOW_WEBHOOK_URL', 'https://hookflow.example.com');
 *   define('HOOKFLOW_WEBHOOK_TOKEN', 'the WEBHOOK_TOKEN of hookflow');
 *   require_once __DIR__ . '/webhook_integration.php';
 *
 * A failed post never breaks the order save: errors are logged, not thrown.
 * PHP >= 7.1, curl extension recommended (falls back to PHP streams).
 */

if (!defined('HOOKFLOW_WEBHOOK_URL')) {
    define('HOOKFLOW_WEBHOOK_URL', '');
}
if (!defined('HOOKFLOW_WEBHOOK_TOKEN')) {
    define('HOOKFLOW_WEBHOOK_TOKEN', '');
}
// Seconds for the whole request; the order save waits for it.
if (!defined('HOOKFLOW_WEBHOOK_TIMEOUT')) {
    define('HOOKFLOW_WEBHOOK_TIMEOUT', 5);
}
// Attempts per event; a retry follows only a connection error, 408, 429 or 5xx.
if (!defined('HOOKFLOW_WEBHOOK_ATTEMPTS')) {
    define('HOOKFLOW_WEBHOOK_ATTEMPTS', 2);
}
// 'auto' (curl when available), 'curl' or 'stream'.
if (!defined('HOOKFLOW_WEBHOOK_TRANSPORT')) {
    define('HOOKFLOW_WEBHOOK_TRANSPORT', 'auto');
}
if (!defined('HOOKFLOW_WEBHOOK_LOG')) {
    define('HOOKFLOW_WEBHOOK_LOG', rtrim(isset($_SERVER['DOCUMENT_ROOT']) ? $_SERVER['DOCUMENT_ROOT'] : '', '/') . '/upload/webhook_log.txt');
}

if (!class_exists('HookflowWebhook', false)) {

    final class HookflowWebhook
    {
        const USER_AGENT = 'hookflow-bitrix/1.0';
        const LOG_MAX_BYTES = 5242880; // rotate to webhook_log.txt.1 above 5 MB

        /** b_sale_order fields sent in "order". */
        const ORDER_FIELDS = array(
            'ID', 'ACCOUNT_NUMBER', 'USER_ID', 'STATUS_ID', 'DATE_STATUS', 'PAYED', 'CANCELED',
            'PRICE', 'PRICE_DELIVERY', 'CURRENCY', 'USER_DESCRIPTION', 'COMMENTS',
            'DATE_INSERT', 'DATE_UPDATE', 'TRACKING_NUMBER',
        );

        /** b_sale_basket fields sent for each BASKET item. */
        const BASKET_FIELDS = array('ID', 'PRODUCT_ID', 'NAME', 'PRICE', 'CURRENCY', 'QUANTITY');

        /**
         * "origin" of the events sent while it is set; hookflow_order_update.php
         * sets 'backsync' so hookflow recognises echoes of its own changes.
         * @var string|null
         */
        public static $origin = null;

        private static $registered = false;

        public static function register()
        {
            if (self::$registered) {
                return;
            }
            self::$registered = true;
            $em = \Bitrix\Main\EventManager::getInstance();
            $em->addEventHandler('sale', 'OnSaleOrderSaved', array(__CLASS__, 'onOrderSaved'));
            $em->addEventHandler('sale', 'OnSaleStatusOrderChange', array(__CLASS__, 'onStatusChange'));
        }

        /** OnSaleOrderSaved: ENTITY (order), VALUES (old values of changed fields), IS_NEW. */
        public static function onOrderSaved($event)
        {
            try {
                $order = $event->getParameter('ENTITY');
                if (is_object($order)) {
                    $old = $event->getParameter('VALUES');
                    self::send('order.saved', (bool)$event->getParameter('IS_NEW'), $order, is_array($old) ? $old : array());
                }
            } catch (\Throwable $e) {
                self::log(self::line('order.saved', '?', 0, '', 0, 0.0, 'exception: ' . $e->getMessage()));
            }
            return self::success();
        }

        /** OnSaleStatusOrderChange: ENTITY (order), VALUE (new status), OLD_VALUE. */
        public static function onStatusChange($event)
        {
            try {
                $order = $event->getParameter('ENTITY');
                if (is_object($order)) {
                    self::send('order.status_changed', false, $order, array('STATUS_ID' => $event->getParameter('OLD_VALUE')));
                }
            } catch (\Throwable $e) {
                self::log(self::line('order.status_changed', '?', 0, '', 0, 0.0, 'exception: ' . $e->getMessage()));
            }
            return self::success();
        }

        private static function success()
        {
            if (class_exists('\Bitrix\Main\EventResult')) {
                return new \Bitrix\Main\EventResult(\Bitrix\Main\EventResult::SUCCESS, null, 'sale');
            }
            return null;
        }

        /**
         * The order as sent in "order": b_sale_order fields, BASKET, PROPERTIES
         * (by CODE; a property without CODE as ORDER_PROP_<id>). Dates are
         * ISO 8601 with offset, Y/N flags as is, numbers as numbers.
         */
        public static function orderToArray($order)
        {
            $data = array();
            foreach (self::ORDER_FIELDS as $name) {
                $data[$name] = self::value($order->getField($name));
            }
            if (empty($data['ID']) && method_exists($order, 'getId')) {
                $data['ID'] = $order->getId();
            }
            if ((string)$data['TRACKING_NUMBER'] === '' && method_exists($order, 'getShipmentCollection')) {
                $shipments = $order->getShipmentCollection();
                if ($shipments) {
                    foreach ($shipments as $shipment) {
                        if (method_exists($shipment, 'isSystem') && $shipment->isSystem()) {
                            continue;
                        }
                        $tracking = (string)$shipment->getField('TRACKING_NUMBER');
                        if ($tracking !== '') {
                            $data['TRACKING_NUMBER'] = $tracking;
                            break;
                        }
                    }
                }
            }

            $data['BASKET'] = array();
            $basket = $order->getBasket();
            if ($basket) {
                foreach ($basket as $item) {
                    $row = array();
                    foreach (self::BASKET_FIELDS as $name) {
                        $row[$name] = self::value($item->getField($name));
                    }
                    $data['BASKET'][] = $row;
                }
            }

            $props = array();
            $collection = $order->getPropertyCollection();
            if ($collection) {
                foreach ($collection as $prop) {
                    $code = (string)$prop->getField('CODE');
                    if ($code === '') {
                        $code = 'ORDER_PROP_' . (int)$prop->getField('ORDER_PROPS_ID');
                    }
                    $props[$code] = self::value($prop->getValue());
                }
            }
            $data['PROPERTIES'] = $props;
            return $data;
        }

        /** The order as JSON-ready data: UTF-8, PROPERTIES an object even when empty. */
        public static function orderForJson($order)
        {
            $data = self::toUtf8(self::orderToArray($order));
            $data['PROPERTIES'] = (object)$data['PROPERTIES'];
            return $data;
        }

        public static function encode($data)
        {
            $flags = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES;
            if (defined('JSON_INVALID_UTF8_SUBSTITUTE')) {
                $flags |= JSON_INVALID_UTF8_SUBSTITUTE;
            }
            $json = json_encode($data, $flags);
            if ($json === false) {
                throw new \RuntimeException('json_encode: ' . json_last_error_msg());
            }
            return $json;
        }

        private static function send($event, $isNew, $order, array $old)
        {
            $orderId = method_exists($order, 'getId') ? $order->getId() : $order->getField('ID');
            $path = $event === 'order.status_changed' ? '/api/webhooks/bitrix/status' : '/api/webhooks/bitrix/order';
            $base = rtrim((string)HOOKFLOW_WEBHOOK_URL, '/');
            if ($base === '' || (string)HOOKFLOW_WEBHOOK_TOKEN === '') {
                self::log(self::line($event, $orderId, 0, $path, 0, 0.0, 'skipped: HOOKFLOW_WEBHOOK_URL or HOOKFLOW_WEBHOOK_TOKEN is not set'));
                return false;
            }
            $payload = array(
                'event' => $event,
                'is_new' => (bool)$isNew,
                'order' => self::orderForJson($order),
                'old_values' => (object)self::toUtf8(self::value($old)),
                'sent_at' => date(DATE_ATOM),
            );
            if (self::$origin !== null && self::$origin !== '') {
                $payload['origin'] = self::$origin;
            }
            $json = self::encode($payload);
            $url = $base . $path;

            $attempts = max(1, (int)HOOKFLOW_WEBHOOK_ATTEMPTS);
            for ($attempt = 1; $attempt <= $attempts; $attempt++) {
                $started = microtime(true);
                list($code, $body, $error) = self::post($url, $json);
                $ok = $code >= 200 && $code < 300;
                $note = $ok ? 'ok' : ($error !== '' ? 'error: ' . $error : 'error: ' . self::snippet($body));
                self::log(self::line($event, $orderId, $attempt, $url, $code, microtime(true) - $started, $note, $attempts));
                if ($ok) {
                    return true;
                }
                $retry = $code === 0 || $code === 408 || $code === 429 || $code >= 500;
                if (!$retry || $attempt === $attempts) {
                    break;
                }
                usleep(200000);
            }
            return false;
        }

        /** @return array [http status (0 = no response), body, transport error] */
        private static function post($url, $json)
        {
            $timeout = max(1, (int)HOOKFLOW_WEBHOOK_TIMEOUT);
            $headers = array(
                'Content-Type: application/json; charset=utf-8',
                'X-Webhook-Token: ' . HOOKFLOW_WEBHOOK_TOKEN,
                'User-Agent: ' . self::USER_AGENT,
            );
            $transport = HOOKFLOW_WEBHOOK_TRANSPORT;
            if ($transport === 'curl' || ($transport === 'auto' && function_exists('curl_init'))) {
                $ch = curl_init($url);
                curl_setopt_array($ch, array(
                    CURLOPT_POST => true,
                    CURLOPT_POSTFIELDS => $json,
                    CURLOPT_HTTPHEADER => array_merge($headers, array('Expect:')),
                    CURLOPT_RETURNTRANSFER => true,
                    CURLOPT_FOLLOWLOCATION => false,
                    CURLOPT_CONNECTTIMEOUT => min(3, $timeout),
                    CURLOPT_TIMEOUT => $timeout,
                ));
                $body = curl_exec($ch);
                $code = (int)curl_getinfo($ch, CURLINFO_HTTP_CODE);
                $error = $body === false ? curl_error($ch) : '';
                curl_close($ch);
                return array($code, $body === false ? '' : (string)$body, $error);
            }
            $context = stream_context_create(array('http' => array(
                'method' => 'POST',
                'header' => implode("\r\n", $headers),
                'content' => $json,
                'timeout' => $timeout,
                'ignore_errors' => true,
                'follow_location' => 0,
            )));
            $body = @file_get_contents($url, false, $context);
            $code = 0;
            if (isset($http_response_header[0]) && preg_match('#^HTTP/\S+\s+(\d{3})#', $http_response_header[0], $m)) {
                $code = (int)$m[1];
            }
            $error = '';
            if ($body === false) {
                $last = error_get_last();
                $error = $last ? $last['message'] : 'request failed';
            }
            return array($code, $body === false ? '' : (string)$body, $error);
        }

        /** Normalises a field value for JSON. */
        public static function value($v)
        {
            if ($v instanceof \Bitrix\Main\Type\Date || $v instanceof \DateTimeInterface) {
                return $v->format(DATE_ATOM);
            }
            if (is_bool($v)) {
                return $v ? 'Y' : 'N';
            }
            if (is_array($v)) {
                $out = array();
                foreach ($v as $k => $item) {
                    $out[$k] = self::value($item);
                }
                return $out;
            }
            if (is_object($v)) {
                return method_exists($v, '__toString') ? (string)$v : null;
            }
            return $v;
        }

        /** Converts a windows-1251 site's data to UTF-8. */
        private static function toUtf8($data)
        {
            if (defined('BX_UTF') && BX_UTF === true) {
                return $data;
            }
            if (!defined('SITE_CHARSET') || strtoupper(SITE_CHARSET) === 'UTF-8') {
                return $data;
            }
            if (class_exists('\Bitrix\Main\Text\Encoding')) {
                return \Bitrix\Main\Text\Encoding::convertEncoding($data, SITE_CHARSET, 'UTF-8');
            }
            return $data;
        }

        private static function snippet($body)
        {
            $s = trim(preg_replace('/\s+/', ' ', (string)$body));
            if (function_exists('mb_substr')) {
                return mb_substr($s, 0, 200, 'UTF-8');
            }
            return substr($s, 0, 200);
        }

        /**
         * One log line; never contains the token:
         * [2025-01-09 12:00:05] order.saved order=122045 attempt=1/2 POST https://hookflow.example.com/api/webhooks/bitrix/order -> HTTP 200 in 0.042s ok
         */
        private static function line($event, $orderId, $attempt, $url, $code, $seconds, $note, $attempts = 0)
        {
            return sprintf(
                '[%s] %s order=%s attempt=%d/%d POST %s -> HTTP %d in %.3fs %s',
                date('Y-m-d H:i:s'), $event, $orderId, $attempt, $attempts ?: max(1, (int)HOOKFLOW_WEBHOOK_ATTEMPTS),
                $url, $code, $seconds, str_replace(array("\r", "\n"), ' ', $note)
            );
        }

        private static function log($line)
        {
            $file = (string)HOOKFLOW_WEBHOOK_LOG;
            if ($file === '') {
                return;
            }
            $dir = dirname($file);
            if (!is_dir($dir)) {
                @mkdir($dir, 0775, true);
            }
            if (@filesize($file) > self::LOG_MAX_BYTES) {
                @rename($file, $file . '.1');
            }
            @file_put_contents($file, $line . "\n", FILE_APPEND | LOCK_EX);
        }
    }

    HookflowWebhook::register();
}
