const express = require('express');
const crypto = require('crypto');
const app = express();

const SHARED_SECRET = 'your-shared-secret-key';

app.use(express.raw({type: 'application/json'}));

app.post('/webhook-handler', (req, res) => {
    const payload = req.body.toString();
    const signature = req.headers['x-signature'];
    
    // Проверяем подпись
    const expectedSignature = crypto
        .createHmac('sha256', SHARED_SECRET)
        .update(payload)
        .digest('hex');
    
    if (signature !== expectedSignature) {
        return res.status(403).json({error: 'Invalid signature'});
    }
    
    // Обрабатываем webhook
    const data = JSON.parse(payload);
    console.log(`Job ${data.job_id} completed:`, data);
    
    // Получаем результаты если нужно
    if (data.results_available) {
        fetchResults(data.job_id);
    }
    
    res.json({success: true});
});

function fetchResults(jobId) {
    // Код для получения результатов
}

app.listen(3000, () => {
    console.log('Webhook server running on port 3000');
});
