// certlab's Java (JSSE) client peer: sends one request, prints the answer; exits 1 with the
// error text when the connection fails. With several key entries, JSSE's key manager picks one
// whose issuer the server named (or none).
// Usage: java LabClient PORT CA.pem VERSION(1.2|1.3) [KEYSTORE.p12 PASSWORD]
import java.io.*;
import java.security.KeyStore;
import java.security.cert.*;
import javax.net.ssl.*;

public class LabClient {
    public static void main(String[] a) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        try (InputStream in = new FileInputStream(a[1])) {
            ts.setCertificateEntry("labca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ts);
        KeyManager[] kms = null;
        if (a.length > 4) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try (InputStream in = new FileInputStream(a[3])) { ks.load(in, a[4].toCharArray()); }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
            kmf.init(ks, a[4].toCharArray());
            kms = kmf.getKeyManagers();
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kms, tmf.getTrustManagers(), null);
        String version = a.length > 4 ? a[2] : a[a.length - 1];
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", Integer.parseInt(a[0]))) {
            s.setEnabledProtocols(new String[] {version.equals("1.3") ? "TLSv1.3" : "TLSv1.2"});
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(java.util.List.of(new SNIHostName("localhost")));
            s.setSSLParameters(p);
            s.getOutputStream().write("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n".getBytes("UTF-8"));
            s.getOutputStream().flush();
            System.out.print(new String(s.getInputStream().readAllBytes(), "UTF-8"));
        } catch (IOException e) {
            System.out.println("error: " + e);
            System.exit(1);
        }
    }
}
