// certlab's Go (crypto/tls) client peer: sends one request, prints the answer; exits 1 with the
// error text when the connection fails. With several certificates, crypto/tls picks the one the
// server's CertificateRequest allows (CA names, schemes), or none.
// Usage: labclient PORT CA VERSION(1.2|1.3) [CERT KEY]...
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
)

func main() {
	port, caFile, version := os.Args[1], os.Args[2], os.Args[3]
	pem, err := os.ReadFile(caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "CA:", err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	var certs []tls.Certificate
	for i := 4; i+1 < len(os.Args); i += 2 {
		c, err := tls.LoadX509KeyPair(os.Args[i], os.Args[i+1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "certificate:", err)
			os.Exit(2)
		}
		certs = append(certs, c)
	}
	v := uint16(tls.VersionTLS12)
	if version == "1.3" {
		v = tls.VersionTLS13
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: certs, MinVersion: v, MaxVersion: v}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, cfg)
	if err != nil {
		fmt.Println("handshake error:", err)
		os.Exit(1)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")); err != nil {
		fmt.Println("write error:", err)
		os.Exit(1)
	}
	body, err := io.ReadAll(conn)
	fmt.Print(string(body))
	if err != nil {
		fmt.Println("read error:", err)
		os.Exit(1)
	}
}
