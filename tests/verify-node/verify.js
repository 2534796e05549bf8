// Verifies one delivery with the npm reference Standard Webhooks library: reads
// {"secret", "headers", "body"} on stdin, prints "verified" or exits 1 with the library's error.
const { Webhook } = require("standardwebhooks");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { secret, headers, body } = JSON.parse(input);
  try {
    new Webhook(secret).verify(body, headers);
    console.log("verified");
  } catch (error) {
    console.error(`rejected: ${error.message}`);
    process.exit(1);
  }
});
