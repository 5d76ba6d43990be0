// kuma_db.js: runs SQL on an Uptime Kuma SQLite database with the SQLite
// binding Kuma itself uses, so the e2e tests need no sqlite3 CLI.
//
//   node kuma_db.js NODE_MODULES_DIR DB_FILE query SQL [PARAMS_JSON]
//       prints the rows as one JSON array
//   node kuma_db.js NODE_MODULES_DIR DB_FILE exec SQL [PARAMS_JSON]
//       runs one statement, prints {"changes":N,"lastID":N}
//
// The database may be in use by a running Kuma (WAL mode): readers do not
// block it, and a busy database is retried for up to 10 s.
"use strict";

const path = require("path");

function fail(message) {
    process.stderr.write(`kuma_db.js: ${message}\n`);
    process.exit(2);
}

const [modulesDir, dbFile, verb, sql, paramsJson] = process.argv.slice(2);
if (!modulesDir || !dbFile || !sql || (verb !== "query" && verb !== "exec")) {
    fail("usage: kuma_db.js NODE_MODULES_DIR DB_FILE query|exec SQL [PARAMS_JSON]");
}
let params = [];
if (paramsJson !== undefined) {
    try {
        params = JSON.parse(paramsJson);
    } catch (e) {
        fail(`PARAMS_JSON is not JSON: ${e.message}`);
    }
}

let sqlite3;
try {
    sqlite3 = require(path.resolve(modulesDir, "@louislam", "sqlite3"));
} catch (e) {
    fail(`cannot load the SQLite binding from ${modulesDir}: ${e.message}`);
}

const db = new sqlite3.Database(dbFile, sqlite3.OPEN_READWRITE, (openError) => {
    if (openError) fail(`cannot open ${dbFile}: ${openError.message}`);
});
db.configure("busyTimeout", 10000);

function done(error, output) {
    db.close(() => {
        if (error) fail(`${error.message} (in: ${sql})`);
        process.stdout.write(JSON.stringify(output) + "\n");
    });
}

if (verb === "query") {
    db.all(sql, params, (error, rows) => done(error, rows));
} else {
    db.run(sql, params, function (error) {
        done(error, error ? null : { changes: this.changes, lastID: this.lastID });
    });
}
