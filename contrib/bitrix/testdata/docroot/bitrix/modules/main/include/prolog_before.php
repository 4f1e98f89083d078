<?php
/**
 * Test stand-in for Bitrix's prolog: loads the class shim, the order store
 * named by HOOKFLOW_SHIM_STORE, and init.php's part (the constants and
 * webhook_integration.php).
 */
date_default_timezone_set('Etc/GMT-5');
require_once __DIR__ . '/../../../../../shim.php';
\HookflowShim\Store::open(getenv('HOOKFLOW_SHIM_STORE'));

define('HOOKFLOW_WEBHOOK_URL', (string)getenv('HOOKFLOW_WEBHOOK_URL'));
define('HOOKFLOW_WEBHOOK_TOKEN', (string)getenv('HOOKFLOW_WEBHOOK_TOKEN'));
foreach (array('HOOKFLOW_BACKSYNC_TOKEN', 'HOOKFLOW_BACKSYNC_TOKEN_PREVIOUS') as $optional) {
    if (getenv($optional) !== false) {
        define($optional, (string)getenv($optional));
    }
}
define('HOOKFLOW_WEBHOOK_ATTEMPTS', 1);
define('HOOKFLOW_WEBHOOK_LOG', (string)getenv('HOOKFLOW_WEBHOOK_LOG')); // keep the log out of the source tree
require_once __DIR__ . '/../../../../../../webhook_integration.php';
