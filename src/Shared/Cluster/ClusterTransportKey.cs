using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace VaeCluster.Cluster;

/// <summary>
/// The cluster secret applied to Akka.Remote: every node derives the same ECDSA P-256 key from the secret and runs
/// the cluster transport over mutual TLS with a certificate for it, accepting only peers whose certificate carries
/// that same public key. A node without the secret cannot open an association, so it can neither join, nor mark
/// members unreachable, nor down anyone: membership is decided among holders of the secret only.
/// </summary>
public static class ClusterTransportKey
{
    private const string Purpose = "vaecluster akka tls";

    // The order n of P-256's base point: a private key is a scalar in [1, n-1].
    private static readonly BigInteger Order = BigInteger.Parse(
        "00FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", System.Globalization.NumberStyles.HexNumber);

    // Fixed validity: every node must be able to make the certificate from the secret alone, at any date.
    private static readonly DateTimeOffset NotBefore = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset NotAfter = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// A self-signed certificate, with its private key, for the key the secret gives. Two nodes' certificates differ
    /// (ECDSA signatures are randomised, serial numbers random) but carry the same public key, which is what peers pin.
    /// </summary>
    public static X509Certificate2 CertificateFor(string secret)
    {
        using var key = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = PrivateScalar(secret) });
        var request = new CertificateRequest("CN=vaecluster", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(NotBefore, NotAfter);
        // Through PKCS#12, so the TLS stack gets a certificate whose key it can use on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), password: null);
    }

    /// <summary>Whether a peer's certificate carries the public key of <paramref name="ours"/>.</summary>
    public static bool SameKey(X509Certificate? peer, X509Certificate ours) =>
        peer is not null && peer.GetPublicKey().AsSpan().SequenceEqual(ours.GetPublicKey());

    /// <summary>D = HMAC-SHA256(secret, purpose), reduced into [1, n-1]: deterministic, and one-way from the secret.</summary>
    private static byte[] PrivateScalar(string secret)
    {
        byte[] hash = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(Purpose));
        var d = new BigInteger(hash, isUnsigned: true, isBigEndian: true) % (Order - 1) + 1;
        byte[] bytes = d.ToByteArray(isUnsigned: true, isBigEndian: true);
        var scalar = new byte[32];
        bytes.CopyTo(scalar, scalar.Length - bytes.Length);
        return scalar;
    }
}
