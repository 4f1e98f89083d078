<?php
/**
 * hookflow back-sync endpoint: hookflow calls it when an order changes in the
 * CRM, to set the Bitrix order's status and/or add a comment.
 *
 * Install: copy to the site's /api/ directory so that it is served at
 * {BITRIX_API_URL}hookflow_order_update.php (e.g.
 * https://cvety.kz/api/hookflow_order_update.php). It uses the token defined
 * in init.php: HOOKFLOW_BACKSYNC_TOKEN when defined, else
 * HOOKFLOW_WEBHOOK_TOKEN; during a token rotation also
 * HOOKFLOW_BACKSYNC_TOKEN_PREVIOUS (README: Rotating the token).
 *
 * Request:  POST, header X-Webhook-Token, JSON
 *           {"order_id":122045,"status_id":"P","comment":"text"}
 *           (status_id and comment optional, at least one required; the
 *           comment is appended to COMMENTS unless COMMENTS already has it).
 * Answer:   200 {"success":true,"changed":true|false,"order":{...}}
 *           (order as in the webhook JSON) or
 *           4xx/5xx {"success":false,"error":"text","code":"..."} with codes
 *           method_not_allowed 405, unauthorized 401, not_configured 503,
 *           bad_request 400, order_not_found 404, unknown_status 422,
 *           save_failed 422, internal 500.
 */

define('NO_KEEP_STATISTIC', true);
define('NOT_CHECK_PERMISSIONS', true);
define('STOP_STATISTICS', true);
define('NO_AGENT_CHECK', true);
define('PUBLIC_AJAX_MODE', true);

require $_SERVER['DOCUMENT_ROOT'] . '/bitrix/modules/main/include/prolog_before.php';

if (!class_exists('HookflowWebhook')) {
    $hookflowHandler = $_SERVER['DOCUMENT_ROOT'] . '/local/php_interface/webhook_integration.php';
    if (is_file($hookflowHandler)) {
        require_once $hookflowHandler;
    }
}

function hookflow_reply($status, array $body)
{
    while (ob_get_level() > 0) {
        ob_end_clean();
    }
    http_response_code($status);
    header('Content-Type: application/json; charset=utf-8');
    $flags = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES;
    if (defined('JSON_INVALID_UTF8_SUBSTITUTE')) {
        $flags |= JSON_INVALID_UTF8_SUBSTITUTE;
    }
    echo json_encode($body, $flags);
    die();
}

function hookflow_fail($status, $code, $error)
{
    hookflow_reply($status, array('success' => false, 'error' => $error, 'code' => $code));
}

try {
    if (!isset($_SERVER['REQUEST_METHOD']) || $_SERVER['REQUEST_METHOD'] !== 'POST') {
        header('Allow: POST');
        hookflow_fail(405, 'method_not_allowed', 'method not allowed, use POST');
    }
    $expected = defined('HOOKFLOW_BACKSYNC_TOKEN') ? (string)HOOKFLOW_BACKSYNC_TOKEN
        : (defined('HOOKFLOW_WEBHOOK_TOKEN') ? (string)HOOKFLOW_WEBHOOK_TOKEN : '');
    if ($expected === '') {
        hookflow_fail(503, 'not_configured', 'HOOKFLOW_WEBHOOK_TOKEN is not defined on the site');
    }
    $accepted = array($expected);
    if (defined('HOOKFLOW_BACKSYNC_TOKEN_PREVIOUS') && (string)HOOKFLOW_BACKSYNC_TOKEN_PREVIOUS !== '') {
        $accepted[] = (string)HOOKFLOW_BACKSYNC_TOKEN_PREVIOUS;
    }
    $given = isset($_SERVER['HTTP_X_WEBHOOK_TOKEN']) ? (string)$_SERVER['HTTP_X_WEBHOOK_TOKEN'] : '';
    $authorized = false;
    foreach ($accepted as $token) {
        $authorized = hash_equals($token, $given) || $authorized; // every token compared, no early exit
    }
    if (!$authorized) {
        hookflow_fail(401, 'unauthorized', 'invalid or missing X-Webhook-Token');
    }

    $request = json_decode((string)file_get_contents('php://input'), true);
    if (!is_array($request)) {
        hookflow_fail(400, 'bad_request', 'body is not a JSON object');
    }
    $orderId = isset($request['order_id']) ? $request['order_id'] : null;
    if (is_string($orderId) && ctype_digit($orderId)) {
        $orderId = (int)$orderId;
    }
    if (!is_int($orderId) || $orderId <= 0) {
        hookflow_fail(400, 'bad_request', 'order_id must be a positive integer');
    }
    foreach (array('status_id', 'comment') as $key) {
        if (isset($request[$key]) && !is_string($request[$key])) {
            hookflow_fail(400, 'bad_request', $key . ' must be a string');
        }
    }
    $statusId = isset($request['status_id']) ? trim($request['status_id']) : '';
    $comment = isset($request['comment']) ? trim($request['comment']) : '';
    if ($statusId !== '' && !preg_match('/^[A-Za-z0-9_]{1,32}$/', $statusId)) {
        hookflow_fail(400, 'bad_request', 'status_id must be a status code (1-32 letters, digits or underscores)');
    }
    if ($statusId === '' && $comment === '') {
        hookflow_fail(400, 'bad_request', 'nothing to update: give status_id and/or comment');
    }
    if ((!defined('BX_UTF') || BX_UTF !== true) && defined('SITE_CHARSET') && strtoupper(SITE_CHARSET) !== 'UTF-8'
        && class_exists('\Bitrix\Main\Text\Encoding')) {
        $comment = \Bitrix\Main\Text\Encoding::convertEncoding($comment, 'UTF-8', SITE_CHARSET);
    }

    if (!\Bitrix\Main\Loader::includeModule('sale')) {
        hookflow_fail(500, 'internal', 'the sale module is not available');
    }
    $order = \Bitrix\Sale\Order::load($orderId);
    if (!$order) {
        hookflow_fail(404, 'order_not_found', 'order ' . $orderId . ' not found');
    }

    $changed = false;
    if ($statusId !== '' && (string)$order->getField('STATUS_ID') !== $statusId) {
        $statuses = \Bitrix\Sale\OrderStatus::getAllStatuses();
        if (!is_array($statuses) || !array_key_exists($statusId, $statuses)) {
            hookflow_fail(422, 'unknown_status', 'status "' . $statusId . '" does not exist');
        }
        $r = $order->setField('STATUS_ID', $statusId);
        if (!$r->isSuccess()) {
            hookflow_fail(422, 'save_failed', implode('; ', $r->getErrorMessages()));
        }
        $changed = true;
    }
    if ($comment !== '') {
        $current = (string)$order->getField('COMMENTS');
        if (strpos($current, $comment) === false) {
            $r = $order->setField('COMMENTS', $current === '' ? $comment : $current . "\n" . $comment);
            if (!$r->isSuccess()) {
                hookflow_fail(422, 'save_failed', implode('; ', $r->getErrorMessages()));
            }
            $changed = true;
        }
    }

    if ($changed) {
        if (class_exists('HookflowWebhook')) {
            HookflowWebhook::$origin = 'backsync';
        }
        try {
            $r = $order->save();
        } finally {
            if (class_exists('HookflowWebhook')) {
                HookflowWebhook::$origin = null;
            }
        }
        if (!$r->isSuccess()) {
            hookflow_fail(422, 'save_failed', implode('; ', $r->getErrorMessages()));
        }
    }

    $data = class_exists('HookflowWebhook')
        ? HookflowWebhook::orderForJson($order)
        : array('ID' => $order->getId(), 'STATUS_ID' => $order->getField('STATUS_ID'), 'COMMENTS' => $order->getField('COMMENTS'));
    hookflow_reply(200, array('success' => true, 'changed' => $changed, 'order' => $data));
} catch (\Throwable $e) {
    hookflow_fail(500, 'internal', $e->getMessage());
}
