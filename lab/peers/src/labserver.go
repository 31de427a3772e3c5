// certlab's Go (crypto/tls) server peer: answers one request line per connection with an HTTP
// 200 naming the client certificate's subject.
// Usage: labserver PORT CERT KEY CA MODE(none|optional|required) VERSION(1.2|1.3)
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

func main() {
	port, certFile, keyFile, caFile, mode, version := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Args[6]
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "certificate:", err)
		os.Exit(2)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "CA:", err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	auth := map[string]tls.ClientAuthType{"none": tls.NoClientCert, "optional": tls.VerifyClientCertIfGiven,
		"required": tls.RequireAndVerifyClientCert}[mode]
	v := uint16(tls.VersionTLS12)
	if version == "1.3" {
		v = tls.VersionTLS13
	}
	var suites []uint16
	for _, s := range tls.CipherSuites() {
		suites = append(suites, s.ID)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: auth,
		MinVersion: v, MaxVersion: v, CipherSuites: suites}
	ln, err := tls.Listen("tcp", "127.0.0.1:"+port, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(2)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go handle(conn)
	}
}

func handle(c net.Conn) {
	defer c.Close()
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "connection:", err)
		return
	}
	subject := "-"
	if st := c.(*tls.Conn).ConnectionState(); len(st.PeerCertificates) > 0 {
		subject = st.PeerCertificates[0].Subject.String()
	}
	fmt.Fprintf(c, "HTTP/1.0 200 OK\r\n\r\nclient=%s\n", subject)
}
