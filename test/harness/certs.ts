/**
 * Certificates and keys for a local control plane: a CA, a serving cert for 127.0.0.1 (and the
 * in-cluster name kubernetes.default.svc, for tls-server-name), an admin
 * client cert (group system:masters), a service-account signing key, the aggregation layer's
 * front-proxy CA and client cert, and the Calico API server's serving cert (for its Service's DNS
 * name, signed by the cluster CA: that CA is the APIService's caBundle). Made with openssl.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** File paths of the generated material. */
export interface ControlPlaneCerts {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
  frontProxyCaCert: string;
  frontProxyCaKey: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  calicoServingCert: string;
  calicoServingKey: string;
}

/** The DNS name kube-apiserver checks the Calico API server's certificate against. */
export const CALICO_API_SERVICE_DNS = "calico-api.calico-apiserver.svc";

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** Creates the certificates in `dir` unless they already exist there. */
export function ensureCerts(dir: string): ControlPlaneCerts {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f: string) => path.join(dir, f);
  const certs: ControlPlaneCerts = {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
    frontProxyCaCert: p("front-proxy-ca.crt"),
    frontProxyCaKey: p("front-proxy-ca.key"),
    frontProxyClientCert: p("front-proxy-client.crt"),
    frontProxyClientKey: p("front-proxy-client.key"),
    calicoServingCert: p("calico-apiserver.crt"),
    calicoServingKey: p("calico-apiserver.key"),
  };
  if (Object.values(certs).every((f: string) => fs.existsSync(f))) return certs;

  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
    "-subj", "/CN=calico-migration-test-ca"], dir);
  fs.writeFileSync(p("serving.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n");
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "serving.key", "-out", "serving.csr", "-subj", "/CN=kube-apiserver"], dir);
  openssl(["x509", "-req", "-in", "serving.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "serving.crt",
    "-days", "3650", "-extfile", "serving.ext"], dir);
  fs.writeFileSync(p("client.ext"), "extendedKeyUsage=clientAuth\n");
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "admin.key", "-out", "admin.csr", "-subj", "/O=system:masters/CN=admin"], dir);
  openssl(["x509", "-req", "-in", "admin.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "admin.crt",
    "-days", "3650", "-extfile", "client.ext"], dir);
  openssl(["genrsa", "-out", "sa.key", "2048"], dir);
  openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "front-proxy-ca.key", "-out", "front-proxy-ca.crt", "-days", "3650",
    "-subj", "/CN=calico-migration-front-proxy-ca"], dir);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "front-proxy-client.key", "-out", "front-proxy-client.csr", "-subj", "/CN=front-proxy-client"], dir);
  openssl(["x509", "-req", "-in", "front-proxy-client.csr", "-CA", "front-proxy-ca.crt", "-CAkey", "front-proxy-ca.key", "-CAcreateserial",
    "-out", "front-proxy-client.crt", "-days", "3650", "-extfile", "client.ext"], dir);
  fs.writeFileSync(p("calico-serving.ext"), `subjectAltName=DNS:${CALICO_API_SERVICE_DNS},DNS:${CALICO_API_SERVICE_DNS}.cluster.local,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "calico-apiserver.key", "-out", "calico-apiserver.csr", "-subj", "/CN=calico-apiserver"], dir);
  openssl(["x509", "-req", "-in", "calico-apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "calico-apiserver.crt",
    "-days", "3650", "-extfile", "calico-serving.ext"], dir);
  return certs;
}
