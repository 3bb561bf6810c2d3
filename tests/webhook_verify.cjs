// Verify one webhook delivery with npm's `standardwebhooks`, as a Node receiver would.
// Reads {"secret": "...", "headers": {...}, "body": "<base64 of the body's bytes>"} on stdin;
// prints the verified payload as JSON and exits 0, or prints why it was refused and exits 1.
const { Webhook } = require("standardwebhooks");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  try {
    const { secret, headers, body } = JSON.parse(input);
    const payload = new Webhook(secret).verify(Buffer.from(body, "base64"), headers);
    process.stdout.write(`${JSON.stringify(payload)}\n`);
  } catch (error) {
    process.stderr.write(`${error.name}: ${error.message}\n`);
    process.exitCode = 1;
  }
});
