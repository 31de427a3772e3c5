// certlab's Node.js client peer: tls.connect as Node's documentation shows client certificates,
// with every key/cert pair it is given (Node hands them all to OpenSSL, which keeps one per key
// type and picks by the server's signature algorithms). It sends an HTTP request and prints the
// answer; a TLS error is printed and exits 1.
// Arguments: PORT CA VERSION [CERT KEY]...
const tls = require("tls");
const fs = require("fs");
const [port, ca, version, ...pairs] = process.argv.slice(2);
const certs = [], keys = [];
for (let i = 0; i + 1 < pairs.length; i += 2) {
  certs.push(fs.readFileSync(pairs[i]));
  keys.push(fs.readFileSync(pairs[i + 1]));
}
const v = "TLSv" + version;
const options = {host: "127.0.0.1", port: Number(port), servername: "localhost", ca: fs.readFileSync(ca),
                 minVersion: v, maxVersion: v};
if (certs.length) { options.cert = certs; options.key = keys; }
const socket = tls.connect(options, () => socket.write("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"));
let answer = "";
socket.on("data", (d) => { answer += d; });
socket.on("end", () => { process.stdout.write(answer); process.exit(answer ? 0 : 1); });
socket.on("error", (e) => { console.error(`${e.code || "error"}: ${e.message}`); process.exit(1); });
setTimeout(() => { console.error("timeout"); process.exit(2); }, 8000);
