// Launch @firestore-emulator/server on 127.0.0.1 (its own start() binds 0.0.0.0) and print
// the bound ports as one JSON line, so a caller can ask for port 0 and learn the real ones:
// {"host": "127.0.0.1", "port": <gRPC>, "meter_port": <HTTP>}.
//
// Every RPC that reads or writes documents is recorded here, at the server, where the RPCs of
// every process arrive (the test process and each Lambda worker alike). GET
// http://127.0.0.1:<meter_port>/rpcs?since=N answers {"next": M, "records": [...]}, the records
// numbered N..M-1; GET /rpcs/next answers {"next": M}. A record is complete before the RPC's
// answer leaves this process, and this process does one thing at a time, so a caller that got
// its answer and then asks for the records finds that RPC among them.
const http = require("node:http");
const { FirestoreServer } = require("@firestore-emulator/server");
const { ServerCredentials, status } = require("@grpc/grpc-js");

const host = process.env.FIRESTORE_EMULATOR_BIND || "127.0.0.1";
const METER_HOST = "127.0.0.1";
const port = Number(process.argv[2] || 0);
const emulator = new FirestoreServer();
const SERVICE = "/google.firestore.v1.Firestore/";

const records = [];

function record(rpc, call, fields) {
  const entry = { seq: records.length, rpc, peer: call.getPeer(), ok: false, ...fields };
  records.push(entry);
  return entry;
}

// Replace the package's handler for `method` by wrap(original handler function).
function wrapHandler(method, wrap) {
  const path = SERVICE + method;
  const handler = emulator.server.handlers.get(path);
  emulator.server.unregister(path);
  emulator.server.register(path, wrap(handler.func), handler.serialize, handler.deserialize, handler.type);
}

// Look at each message of a streaming call before it is sent, and at its end.
function observe(call, onMessage, onEnd) {
  const write = call.write.bind(call);
  call.write = (message, ...rest) => {
    onMessage(message);
    return write(message, ...rest);
  };
  const end = call.end.bind(call);
  call.end = (...rest) => {
    onEnd();
    return end(...rest);
  };
}

function writtenName(write) {
  if (write.has_update) return write.update.name;
  if (write.has_transform) return write.transform.document;
  return write.delete;
}

// Firestore commits are atomic: a batch whose create finds its document (or whose update
// does not) writes nothing. The emulator applies writes one by one and stops at the first
// failure, keeping the earlier ones; check every precondition first, then let it write.
// Node runs one handler at a time, so nothing can change in between.
function checkPreconditions(writes) {
  const exists = new Map();
  for (const write of writes) {
    const name = writtenName(write);
    if (!exists.has(name)) {
      exists.set(name, emulator.state.getDocument(name).metadata.hasExist);
    }
    if (write.has_current_document && write.current_document.has_exists) {
      const expected = write.current_document.exists;
      if (exists.get(name) !== expected) {
        const code = expected ? status.NOT_FOUND : status.ALREADY_EXISTS;
        const what = expected ? "no entity to update" : "entity already exists";
        return { code, message: `${what}: ${name}`, name: "Error" };
      }
    }
    exists.set(name, !write.has_delete);
  }
  return null;
}

// Commit: the documents written (deletes apart); `ok` false when it failed and wrote nothing.
wrapHandler("Commit", (commit) => (call, callback) => {
  const writes = call.request.writes;
  const entry = record("Commit", call, {
    paths: writes.map(writtenName),
    deletes: writes.filter((w) => w.has_delete).map((w) => w.delete),
  });
  const answer = (err, response) => {
    entry.ok = !err;
    callback(err, response);
  };
  const refused = checkPreconditions(writes);
  if (refused) {
    answer(refused, null);
    return;
  }
  commit(call, answer);
});

// BatchGetDocuments (every get() and get_all() of the client): the documents asked for, and
// which of them were found or missing.
wrapHandler("BatchGetDocuments", (batchGet) => (call) => {
  const entry = record("BatchGetDocuments", call, { paths: [...call.request.documents], found: [], missing: [] });
  observe(
    call,
    (message) => {
      if (message.has_found) entry.found.push(message.found.name);
      else if (message.has_missing) entry.missing.push(message.missing);
    },
    () => {
      entry.ok = true;
    },
  );
  batchGet(call);
});

// RunQuery: the documents the query returned, and the results it skipped (an offset).
wrapHandler("RunQuery", (runQuery) => (call) => {
  const entry = record("RunQuery", call, { parent: call.request.parent, documents: [], skipped: 0 });
  observe(
    call,
    (message) => {
      if (message.has_document) entry.documents.push(message.document.name);
      entry.skipped += message.skipped_results || 0;
    },
    () => {
      entry.ok = true;
    },
  );
  runQuery(call);
});

// RunAggregationQuery (count(), sum(), avg()): Firestore bills the index entries it reads, one
// read per batch of up to 1,000, at least one; here, the documents the query matches.
wrapHandler("RunAggregationQuery", (aggregate) => (call) => {
  const { parent, structured_aggregation_query: aggregation } = call.request;
  let entries = 0;
  try {
    entries = emulator.state.v1Query(parent, aggregation.structured_query).length;
  } catch {
    // the package's handler refuses the same query and answers the error
  }
  const entry = record("RunAggregationQuery", call, { parent, entries });
  observe(
    call,
    () => {},
    () => {
      entry.ok = true;
    },
  );
  aggregate(call);
});

// Listen (on_snapshot): one record per snapshot the listener is sent, at the message that makes
// it current, listing the documents Firestore would bill: those added to the result set or
// updated since the listener last saw them. The package resends the whole result set on every
// change; a document it resends unchanged is not counted again.
const TARGET_CURRENT = 3;
wrapHandler("Listen", (listen) => (call) => {
  const seen = new Map(); // document name -> update time last sent
  let pending = [];
  let snapshots = 0;
  observe(
    call,
    (message) => {
      if (message.has_document_change) {
        const document = message.document_change.document;
        const version = `${document.update_time.seconds}.${document.update_time.nanos}`;
        if (seen.get(document.name) !== version) {
          seen.set(document.name, version);
          pending.push(document.name);
        }
      } else if (message.has_target_change && message.target_change.target_change_type === TARGET_CURRENT) {
        const entry = record("Listen", call, { documents: pending, initial: snapshots === 0 });
        entry.ok = true;
        snapshots += 1;
        pending = [];
      }
    },
    () => {},
  );
  listen(call);
});

function serveRecords(request, response) {
  const url = new URL(request.url, `http://${METER_HOST}`);
  const answer = (code, body) => {
    response.writeHead(code, { "Content-Type": "application/json" });
    response.end(JSON.stringify(body));
  };
  if (request.method !== "GET") return answer(405, { error: "GET only" });
  if (url.pathname === "/rpcs/next") return answer(200, { next: records.length });
  if (url.pathname !== "/rpcs") return answer(404, { error: "GET /rpcs?since=N or /rpcs/next" });
  const since = Number(url.searchParams.get("since") || "0");
  if (!Number.isInteger(since) || since < 0) return answer(400, { error: "since: a record number" });
  return answer(200, { next: records.length, records: records.slice(since) });
}

const meter = http.createServer(serveRecords);

function stop() {
  emulator.stop();
  meter.close();
  process.exit(0);
}

const grpcBound = new Promise((resolve, reject) => {
  emulator.server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) =>
    err ? reject(err) : resolve(bound),
  );
});
const meterBound = new Promise((resolve, reject) => {
  meter.once("error", reject);
  meter.listen(0, METER_HOST, () => resolve(meter.address().port));
});
Promise.all([grpcBound, meterBound]).then(
  ([bound, meterPort]) => console.log(JSON.stringify({ host, port: bound, meter_port: meterPort })),
  (err) => {
    console.error(JSON.stringify({ error: err.message }));
    process.exit(1);
  },
);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, stop);
}
// Stop with the parent: a closed stdin means whoever started us is gone.
process.stdin.on("end", stop);
process.stdin.resume();
