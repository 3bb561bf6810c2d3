// Launch @firestore-emulator/server on 127.0.0.1 (its own start() binds 0.0.0.0) and print
// the bound port as one JSON line, so a caller can ask for port 0 and learn the real one.
const { FirestoreServer } = require("@firestore-emulator/server");
const { ServerCredentials, status } = require("@grpc/grpc-js");

const host = process.env.FIRESTORE_EMULATOR_BIND || "127.0.0.1";
const port = Number(process.argv[2] || 0);
const emulator = new FirestoreServer();

// Firestore commits are atomic: a batch whose create finds its document (or whose update
// does not) writes nothing. The emulator applies writes one by one and stops at the first
// failure, keeping the earlier ones; check every precondition first, then let it write.
// Node runs one handler at a time, so nothing can change in between.
const COMMIT = "/google.firestore.v1.Firestore/Commit";
const commit = emulator.server.handlers.get(COMMIT);
emulator.server.unregister(COMMIT);
emulator.server.register(
  COMMIT,
  (call, callback) => {
    const exists = new Map();
    for (const write of call.request.writes) {
      const name = write.has_update ? write.update.name : write.delete;
      if (!exists.has(name)) {
        exists.set(name, emulator.state.getDocument(name).metadata.hasExist);
      }
      if (write.has_current_document && write.current_document.has_exists) {
        const expected = write.current_document.exists;
        if (exists.get(name) !== expected) {
          const code = expected ? status.NOT_FOUND : status.ALREADY_EXISTS;
          const what = expected ? "no entity to update" : "entity already exists";
          callback({ code, message: `${what}: ${name}`, name: "Error" }, null);
          return;
        }
      }
      exists.set(name, !write.has_delete);
    }
    commit.func(call, callback);
  },
  commit.serialize,
  commit.deserialize,
  commit.type,
);

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
