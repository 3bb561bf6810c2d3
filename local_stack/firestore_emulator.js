// Launch @firestore-emulator/server on 127.0.0.1 (its own start() binds 0.0.0.0) and print
// the bound port as one JSON line, so a caller can ask for port 0 and learn the real one.
const { FirestoreServer } = require("@firestore-emulator/server");
const { ServerCredentials } = require("@grpc/grpc-js");

const host = process.env.FIRESTORE_EMULATOR_BIND || "127.0.0.1";
const port = Number(process.argv[2] || 0);
const emulator = new FirestoreServer();

emulator.server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    console.error(JSON.stringify({ error: err.message }));
    process.exit(1);
  }
  console.log(JSON.stringify({ host, port: bound }));
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    emulator.stop();
    process.exit(0);
  });
}
// Stop with the parent: a closed stdin means whoever started us is gone.
process.stdin.on("end", () => {
  emulator.stop();
  process.exit(0);
});
process.stdin.resume();
