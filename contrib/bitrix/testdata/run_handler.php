<?php
/**
 * Test driver: loads the Bitrix shim and webhook_integration.php the way
 * init.php does, builds an order from a JSON fixture and fires the event.
 *
 *   php run_handler.php <fixture.json> [saved|status]
 *
 * Configuration comes from the environment: DOCUMENT_ROOT (the log goes to
 * DOCUMENT_ROOT/upload/webhook_log.txt), HOOKFLOW_WEBHOOK_URL,
 * HOOKFLOW_WEBHOOK_TOKEN and optionally HOOKFLOW_WEBHOOK_TRANSPORT,
 * HOOKFLOW_WEBHOOK_ATTEMPTS, HOOKFLOW_WEBHOOK_TIMEOUT. Prints the types of
 * the handlers' EventResults as JSON, e.g. {"results":[1]}.
 */

error_reporting(E_ALL);
ini_set('display_errors', 'stderr');
set_error_handler(function ($severity, $message, $file, $line) {
    if (!(error_reporting() & $severity)) {
        return false; // silenced with @
    }
    throw new ErrorException($message, 0, $severity, $file, $line);
});
date_default_timezone_set('Etc/GMT-5'); // UTC+5, the shop's zone

if ($argc < 2) {
    fwrite(STDERR, "usage: php run_handler.php <fixture.json> [saved|status]\n");
    exit(2);
}
$fixture = json_decode(file_get_contents($argv[1]), true);
if (!is_array($fixture)) {
    fwrite(STDERR, "fixture is not JSON: {$argv[1]}\n");
    exit(2);
}
$mode = isset($argv[2]) ? $argv[2] : 'saved';

$_SERVER['DOCUMENT_ROOT'] = (string)getenv('DOCUMENT_ROOT');
define('HOOKFLOW_WEBHOOK_URL', (string)getenv('HOOKFLOW_WEBHOOK_URL'));
define('HOOKFLOW_WEBHOOK_TOKEN', (string)getenv('HOOKFLOW_WEBHOOK_TOKEN'));
foreach (array('HOOKFLOW_WEBHOOK_TRANSPORT', 'HOOKFLOW_WEBHOOK_ATTEMPTS', 'HOOKFLOW_WEBHOOK_TIMEOUT') as $name) {
    if (getenv($name) !== false && getenv($name) !== '') {
        define($name, getenv($name));
    }
}

require __DIR__ . '/shim.php';
require_once __DIR__ . '/../webhook_integration.php';

if (isset($fixture['statuses'])) {
    \HookflowShim\Store::$statuses = $fixture['statuses'];
}
$order = \Bitrix\Sale\Order::fromFixture($fixture);

// VALUES carries old values as Bitrix does: dates as DateTime objects.
$old = isset($fixture['old_values']) ? $fixture['old_values'] : array();
foreach ($old as $k => $v) {
    if (strpos($k, 'DATE_') === 0 && is_string($v) && $v !== '') {
        $old[$k] = new \Bitrix\Main\Type\DateTime($v);
    }
}

if ($mode === 'status') {
    $event = new \Bitrix\Main\Event('sale', 'OnSaleStatusOrderChange', array(
        'ENTITY' => $order,
        'VALUE' => $order->getField('STATUS_ID'),
        'OLD_VALUE' => isset($old['STATUS_ID']) ? $old['STATUS_ID'] : null,
    ));
} else {
    $event = new \Bitrix\Main\Event('sale', 'OnSaleOrderSaved', array(
        'ENTITY' => $order,
        'IS_NEW' => $order->isNew(),
        'VALUES' => $old,
    ));
}
$event->send();

$types = array();
foreach ($event->getResults() as $result) {
    $types[] = $result->getType();
}
echo json_encode(array('results' => $types)), "\n";
