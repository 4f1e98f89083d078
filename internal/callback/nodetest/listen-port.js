// Preloaded with `node --require ./listen-port.js receiver.js`. The seed's
// receiver (receiver.js, kept byte for byte) listens on port 3000; this moves
// every express app to the port in $PORT (0: one the system picks) and prints
// "NODETEST_LISTENING <port>" for the Go test, without touching the seed's
// code.
const express = require('express');

const listen = express.application.listen;
express.application.listen = function (_port, ...rest) {
    const server = listen.call(this, Number(process.env.PORT || 0), '127.0.0.1', ...rest);
    server.on('listening', () => console.log(`NODETEST_LISTENING ${server.address().port}`));
    return server;
};
