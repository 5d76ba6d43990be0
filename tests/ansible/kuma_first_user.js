// kuma_first_user.js: makes the first user of a fresh Uptime Kuma, as its
// set-up page does (Socket.IO event "setup"), with the socket.io-client of
// Kuma's own npm tree.
//
//   node kuma_first_user.js NODE_MODULES_DIR URL CA_FILE USER PASSWORD_FILE
//
// The certificate is validated against CA_FILE. Exits 0 when Kuma says ok,
// 1 with Kuma's message otherwise, 2 on a usage error.
"use strict";

const fs = require("fs");
const path = require("path");

const [modulesDir, url, caFile, user, passwordFile] = process.argv.slice(2);
if (!passwordFile) {
    process.stderr.write("usage: kuma_first_user.js NODE_MODULES_DIR URL CA_FILE USER PASSWORD_FILE\n");
    process.exit(2);
}
const { io } = require(path.resolve(modulesDir, "socket.io-client"));
const password = fs.readFileSync(passwordFile, "utf8").split(/\r?\n/)[0];
const socket = io(url, {
    transports: ["websocket"],
    ca: fs.readFileSync(caFile),
    rejectUnauthorized: true,
    reconnection: false,
    timeout: 20000,
});
const timer = setTimeout(() => {
    process.stderr.write(`kuma_first_user.js: no answer from ${url} within 60 s\n`);
    process.exit(1);
}, 60000);
socket.on("connect_error", (error) => {
    process.stderr.write(`kuma_first_user.js: cannot connect to ${url}: ${error.message}\n`);
    process.exit(1);
});
socket.on("connect", () => {
    socket.emit("setup", user, password, (answer) => {
        clearTimeout(timer);
        socket.close();
        if (answer && answer.ok) {
            process.stdout.write(`kuma_first_user.js: made the first user ${user}\n`);
            process.exit(0);
        }
        process.stderr.write(`kuma_first_user.js: Kuma refused: ${answer && answer.msg}\n`);
        process.exit(1);
    });
});
