// certlab's Java (JSSE) server peer: answers one request line per connection with an HTTP 200
// naming the client certificate's subject.
// Usage: java LabServer PORT KEYSTORE.p12 PASSWORD CA.pem MODE(none|optional|required|renegotiation) VERSION
import java.io.*;
import java.net.*;
import java.security.KeyStore;
import java.security.cert.*;
import javax.net.ssl.*;

public class LabServer {
    static String mode = "none";

    public static void main(String[] a) throws Exception {
        char[] pw = a[2].toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(a[1])) { ks.load(in, pw); }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, pw);
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        try (InputStream in = new FileInputStream(a[3])) {
            ts.setCertificateEntry("labca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        SSLServerSocket ss = (SSLServerSocket) ctx.getServerSocketFactory()
            .createServerSocket(Integer.parseInt(a[0]), 50, InetAddress.getByName("127.0.0.1"));
        ss.setEnabledProtocols(new String[] {a[5].equals("1.3") ? "TLSv1.3" : "TLSv1.2"});
        mode = a[4];
        if (a[4].equals("required")) ss.setNeedClientAuth(true);
        else if (a[4].equals("optional")) ss.setWantClientAuth(true);
        while (true) {
            SSLSocket s = (SSLSocket) ss.accept();
            new Thread(() -> handle(s)).start();
        }
    }

    static void handle(SSLSocket s) {
        try (s) {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[16384];
            if (in.read(buf) < 0) return;  // the request (one read: no buffered lines left behind)
            if (mode.equals("renegotiation")) {  // ask for the client certificate in a new handshake
                s.setNeedClientAuth(true);
                s.startHandshake();  // sends HelloRequest; the handshake runs as we read on
                if (in.read(buf) < 0) return;
            }
            String subject = "-";
            try {
                subject = ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
            } catch (SSLPeerUnverifiedException e) { /* no client certificate */ }
            OutputStream o = s.getOutputStream();
            o.write(("HTTP/1.0 200 OK\r\n\r\nclient=" + subject + "\n").getBytes("UTF-8"));
            o.flush();
        } catch (IOException e) {
            System.err.println("connection: " + e);
        }
    }
}
