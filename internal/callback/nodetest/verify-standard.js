// A receiver that verifies the Standard Webhooks headers (webhook-id,
// webhook-timestamp, webhook-signature) of hookflow's callbacks with the
// reference npm package, the way its README shows. hookflow signs with the
// client's secret as raw bytes unless it is a "whsec_" secret, hence
// format "raw" for plain secrets.
//
//   WEBHOOK_SECRET=... node --require ./listen-port.js verify-standard.js
//
// Prints "STANDARD_VERIFIED <json>" (webhook-id and payload) and answers 200,
// or "STANDARD_REJECTED <reason>" and answers 400.
const express = require('express');
const { Webhook } = require('standardwebhooks');

const secret = process.env.WEBHOOK_SECRET;
const wh = secret.startsWith('whsec_') ? new Webhook(secret) : new Webhook(secret, { format: 'raw' });

const app = express();
app.use(express.raw({ type: 'application/json' }));

app.post('/webhook-handler', (req, res) => {
    try {
        const payload = wh.verify(req.body.toString(), req.headers);
        console.log('STANDARD_VERIFIED ' + JSON.stringify({ id: req.headers['webhook-id'], payload }));
        res.json({ success: true });
    } catch (err) {
        console.log('STANDARD_REJECTED ' + err.message);
        res.status(400).json({ error: err.message });
    }
});

app.listen(3001);
