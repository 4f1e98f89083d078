"""Writes a job submission exactly as the seed's Python client sends it.

The seed (job-callbacks.md, create_test_job) signs json.dumps(data['lots'])
and posts with requests.post(url, json=data), whose body is
json.dumps(data, allow_nan=False).encode('utf-8'). This script does the same
without needing requests, and also writes an X-Signature over the whole body.

    python3 python_submission.py OUTDIR SECRET

writes OUTDIR/python_submission.json and OUTDIR/python_submission.x-signature.
The copies next to this script are its output for SECRET=your-shared-secret;
the Go test regenerates them when python3 is available and compares.
"""
import hashlib
import hmac
import json
import os
import sys

out_dir, secret = sys.argv[1], sys.argv[2].encode("utf-8")

data = {
    "version": "1.0.0",
    "languages": ["en", "ru"],
    "webhook_url": "https://your-domain.com/webhook-handler?client=a&token=b/c",
    "lots": [
        {
            "lot_id": "car_001",
            "images": [
                "https://example.com/car1_front.jpg",
                "https://example.com/car1_back.jpg",
            ],
        },
        {
            "lot_id": "лот_002 «Волга»",
            "images": ["https://example.com/фото/volga.jpg?w=800&h=600"],
        },
    ],
}

payload = json.dumps(data["lots"])
data["signature"] = hmac.new(secret, payload.encode("utf-8"), hashlib.sha256).hexdigest()

body = json.dumps(data, allow_nan=False).encode("utf-8")
with open(os.path.join(out_dir, "python_submission.json"), "wb") as f:
    f.write(body)
with open(os.path.join(out_dir, "python_submission.x-signature"), "w") as f:
    f.write(hmac.new(secret, body, hashlib.sha256).hexdigest())
