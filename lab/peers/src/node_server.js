// certlab's Node.js server peer: tls.createServer as its documentation shows client
// authentication (requestCert, rejectUnauthorized, ca), answering an HTTP request with what the
// application learns (socket.authorized, authorizationError). Mode "renegotiation" (TLS 1.2)
// asks for the certificate only after the first request, with socket.renegotiate().
// Arguments: PORT CERT KEY CA MODE VERSION [CRL]
'use strict';
const tls = require('tls');
const fs = require('fs');

const [port, cert, key, ca, mode, version, crl] = process.argv.slice(2);
const options = {
  key: fs.readFileSync(key), cert: fs.readFileSync(cert), ca: fs.readFileSync(ca),
  requestCert: !['none', 'renegotiation'].includes(mode),
  rejectUnauthorized: ['required', 'required-crl'].includes(mode),
  minVersion: 'TLSv' + version, maxVersion: 'TLSv' + version,
};
if (crl) options.crl = fs.readFileSync(crl);

function answer(sock) {
  const ok = sock.authorized || ['none', 'optional'].includes(mode);
  sock.end(`HTTP/1.0 ${ok ? '200 OK' : '403 Forbidden'}\r\nContent-Type: text/plain\r\n\r\n` +
           `authorized=${sock.authorized} error=${sock.authorizationError || 'none'}\n`);
}

const server = tls.createServer(options, (sock) => {
  sock.on('error', (err) => console.error('socket error: ' + err.message));
  sock.once('data', () => {
    if (mode !== 'renegotiation') return answer(sock);
    sock.renegotiate({ requestCert: true, rejectUnauthorized: true }, (err) => {
      if (err) {
        console.error('renegotiation failed: ' + err.message);
        return sock.destroy();
      }
      answer(sock);
    });
  });
});
server.on('tlsClientError', (err) => console.error('tlsClientError: ' + err.message));
server.listen(Number(port), '127.0.0.1', () => console.error('listening on 127.0.0.1:' + port));
