// Reads a JSON array of signing requests on stdin and prints, as JSON, the
// headers each vendor's own library produces for it:
//   {kind: "github", secret, payload}
//   {kind: "stripe", secret, payload, timestamp}        (Unix seconds)
//   {kind: "standard", secret, id, timestamp, payload}  (Unix seconds)
import { sign } from "@octokit/webhooks-methods";
import Stripe from "stripe";
import { Webhook } from "standardwebhooks";

const stripe = new Stripe("sk_test_signertest_no_network");
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const r of JSON.parse(input)) {
  switch (r.kind) {
    case "github":
      out.push({ "X-Hub-Signature-256": await sign(r.secret, r.payload) });
      break;
    case "stripe":
      out.push({
        "Stripe-Signature": stripe.webhooks.generateTestHeaderString({
          payload: r.payload, secret: r.secret, timestamp: r.timestamp,
        }),
      });
      break;
    case "standard":
      out.push({
        "webhook-id": r.id,
        "webhook-timestamp": String(r.timestamp),
        "webhook-signature": new Webhook(r.secret).sign(r.id, new Date(r.timestamp * 1000), r.payload),
      });
      break;
    default:
      throw new Error("unknown kind " + r.kind);
  }
}
process.stdout.write(JSON.stringify(out));
