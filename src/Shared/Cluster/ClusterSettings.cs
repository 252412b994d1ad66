using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using VaeCluster.DataPlane;

namespace VaeCluster.Cluster;

/// <summary>
/// Where a node listens and whom it joins. Comes from appsettings.json (section "Cluster"), VAE_CLUSTER__*
/// environment variables and flags, in that order of precedence (flags win).
/// </summary>
public sealed record ClusterSettings
{
    /// <summary>Address to bind. Loopback by default: opening to a network is an explicit choice.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The name other nodes reach this one by; defaults to <see cref="Host"/>.</summary>
    public string? PublicHost { get; init; }

    /// <summary>Akka.Remote port; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>The coordinator's data-plane port; 0 picks a free one.</summary>
    public int DataPort { get; init; }

    /// <summary>Seed nodes as HOST:PORT. A coordinator seeds itself.</summary>
    public IReadOnlyList<string> Seeds { get; init; } = [];

    /// <summary>
    /// The cluster's shared secret (VAE_CLUSTER__SECRET or --secret-file): the data plane demands proof of it, and
    /// Akka.Remote runs over mutual TLS with a key derived from it (ClusterTransportKey). Null admits any node.
    /// </summary>
    public string? Secret { get; init; }

    /// <summary>
    /// A PKCS#12 file holding the cluster's certificate and key: Akka.Remote traffic then runs over mutual TLS, and
    /// a peer is accepted only if it presents this same certificate (every node of the cluster carries it).
    /// </summary>
    public string? TlsCertificate { get; init; }

    public string? TlsPassword { get; init; }

    /// <summary>How tensors travel (--transport): shared memory where it can, or always TCP.</summary>
    public DataTransport Transport { get; init; } = DataTransport.Auto;

    /// <summary>Whether this node offers (coordinator) or takes (worker) shared memory when it can.</summary>
    public bool SharedMemory => Transport == DataTransport.Auto;

    /// <summary>
    /// How values travel over TCP links (--wire). The coordinator's choice (fp32 when not given) is announced to every
    /// worker; a worker given one of its own is refused by a coordinator with another. Null on a worker: take the
    /// coordinator's.
    /// </summary>
    public WirePrecision? Wire { get; init; }

    public string AdvertisedHost => string.IsNullOrWhiteSpace(PublicHost) ? Host : PublicHost;

    /// <summary>Akka.Remote runs over TLS: with the given certificate, or with the key the secret gives.</summary>
    public bool UsesTls => TlsCertificate is not null || !string.IsNullOrEmpty(Secret);

    /// <summary>The Akka address of a seed given as HOST:PORT (over TLS when this node runs TLS: all nodes must).</summary>
    public string SeedAddress(string hostPort) =>
        $"{(UsesTls ? "akka.ssl.tcp" : "akka.tcp")}://{ClusterDefaults.SystemName}@{hostPort}";

    /// <summary>Returns the first problem with these settings, phrased for a user, or null.</summary>
    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(Host) || !IsHostName(Host)) return $"--host '{Host}' must name an address to bind, such as 127.0.0.1 or 0.0.0.0";
        if (PublicHost is { Length: > 0 } advertised && !IsHostName(advertised))
            return $"--public-host '{advertised}' is not a host name or address other nodes could reach this one by";
        if (Port is < 0 or > 65535) return $"--port {Port} is not a TCP port (0-65535)";
        if (DataPort is < 0 or > 65535) return $"--data-port {DataPort} is not a TCP port (0-65535)";
        if (AdvertisedHost is "0.0.0.0" or "::")
            return "--host binds every interface; give --public-host NAME, the address other nodes reach this one by";
        foreach (var seed in Seeds)
            if (!IsHostPort(seed)) return $"--seed {seed}: expected HOST:PORT, such as 10.0.0.5:{ClusterDefaults.CoordinatorPort}";
        return null;
    }

    /// <summary>
    /// Why the TLS certificate cannot be used, phrased for a user, or null. Opened exactly as the remoting set-up
    /// opens it, so that a PEM file or a wrong password is one line before anything starts, not a failed host.
    /// </summary>
    public string? TlsProblem()
    {
        if (TlsCertificate is not { } file) return null;
        if (!File.Exists(file)) return $"--tls-cert {file}: file not found";
        try
        {
            using var certificate = X509CertificateLoader.LoadPkcs12FromFile(file, TlsPassword);
            return certificate.HasPrivateKey ? null : $"--tls-cert {file}: holds no private key; export certificate and key together (openssl pkcs12 -export -in cert.pem -inkey key.pem -out cluster.pfx)";
        }
        catch (CryptographicException)
        {
            return X509Certificate2.GetCertContentType(file) == X509ContentType.Pkcs12
                ? $"--tls-cert {file}: the password does not open it; set VAE_CLUSTER__TLSPASSWORD to its password"
                : $"--tls-cert {file}: not a PKCS#12 (.pfx) file; make one from PEM files with: openssl pkcs12 -export -in cert.pem -inkey key.pem -out cluster.pfx";
        }
    }

    private static bool IsHostPort(string value)
    {
        int colon = value.LastIndexOf(':');
        return colon > 0 && IsHostName(value[..colon]) && int.TryParse(value[(colon + 1)..], out int port) && port is > 0 and <= 65535;
    }

    /// <summary>A DNS name or an IP address (IPv6 in brackets or not), as an Akka address can carry it.</summary>
    private static bool IsHostName(string value) => Uri.CheckHostName(value.Trim('[', ']')) != UriHostNameType.Unknown;
}
