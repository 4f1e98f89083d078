<?php
/**
 * Router for `php -S 127.0.0.1:<port> -t testdata/docroot testdata/router.php`:
 * serves contrib's hookflow_order_update.php at /api/hookflow_order_update.php,
 * as it is installed on a site. The docroot's prolog_before.php stands in
 * for Bitrix (shim + init.php).
 */
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path === '/api/hookflow_order_update.php') {
    require __DIR__ . '/../hookflow_order_update.php';
    return true;
}
http_response_code(404);
echo "not found\n";
return true;
