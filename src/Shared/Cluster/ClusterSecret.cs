using System.Security.Cryptography;
using System.Text;

namespace VaeCluster.Cluster;

/// <summary>
/// The shared secret that proves a node belongs to the cluster. The data plane asks every connecting worker to
/// sign a fresh nonce with it (HMAC-SHA256), so the secret never travels and an overheard proof is useless later.
/// </summary>
public static class ClusterSecret
{
    /// <summary>
    /// The shortest secret taken. The secret also keys the cluster's TLS (ClusterTransportKey), so a short one could
    /// be guessed offline from one overheard handshake; 16 bytes is what a guess cannot reach.
    /// </summary>
    public const int MinBytes = 16;

    /// <summary>Why a secret is too weak to use, phrased for a user, or null.</summary>
    public static string? Weakness(string secret) => Encoding.UTF8.GetByteCount(secret) is var bytes && bytes < MinBytes
        ? $"the secret is {bytes} bytes; a cluster secret needs at least {MinBytes}"
        : null;

    /// <summary>The proof a worker sends: HMAC-SHA256(secret, nonce ‖ worker id ‖ token), hex; empty without a secret.</summary>
    public static string Prove(string? secret, byte[] nonce, string workerId, string token)
    {
        if (string.IsNullOrEmpty(secret)) return "";
        var message = nonce.Concat(Encoding.UTF8.GetBytes($"\n{workerId}\n{token}")).ToArray();
        return Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }

    /// <summary>Whether a proof is the one the secret gives (compared in constant time).</summary>
    public static bool Verify(string secret, byte[] nonce, string workerId, string token, string proof) =>
        CryptographicOperations.FixedTimeEquals(
            Encoding.ASCII.GetBytes(Prove(secret, nonce, workerId, token)), Encoding.ASCII.GetBytes(proof.ToUpperInvariant()));

    /// <summary>A fresh random secret, for a cluster this process starts itself (./vae train --cluster).</summary>
    public static string NewSecret() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
}
