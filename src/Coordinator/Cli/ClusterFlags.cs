using System.CommandLine;
using Microsoft.Extensions.Configuration;
using VaeCluster.Cluster;
using VaeCluster.DataPlane;

namespace VaeCluster.Coordinator.Cli;

/// <summary>
/// The flags that place a node in a cluster, and how they combine with the other sources: appsettings.json in
/// the working directory (section "Cluster"), then VAE_CLUSTER__* environment variables, then flags (the usual
/// .NET configuration order: later sources win).
/// </summary>
public static class ClusterFlags
{
    public static readonly Option<string?> Host = new("--host") { Description = "Address to bind (default 127.0.0.1: loopback only; 0.0.0.0 opens the node to the network)." };
    public static readonly Option<string?> PublicHost = new("--public-host") { Description = "Name or address other nodes reach this one by (default: --host)." };
    public static readonly Option<int?> Port = NumberOption.Whole("--port", "Akka.Remote port (0: any free port).", 0);
    public static readonly Option<int?> DataPort = NumberOption.Whole("--data-port", "Data-plane port for parameters and gradients (0: any free port).", 0);
    public static readonly Option<string?> SecretFile = new("--secret-file") { Description = "File holding the cluster's shared secret (or set VAE_CLUSTER__SECRET); nodes without it are refused." };
    public static readonly Option<string?> TlsCertificate = new("--tls-cert") { Description = "PKCS#12 file with the cluster's certificate: cluster traffic then runs over mutual TLS, and only nodes presenting this certificate are accepted (password: VAE_CLUSTER__TLSPASSWORD)." };
    public static readonly Option<string?> Transport = new("--transport") { Description = "How parameters and gradients travel: auto (shared memory between a worker and a coordinator on one machine, else TCP; the default) or tcp (always TCP: one host exercises the network path)." };
    public static readonly Option<string?> Wire = new("--wire")
    {
        Description = "How parameters and gradients travel over TCP: fp32 (exact; the default) or bf16 (rounded to bfloat16: half the bytes, for links slower than the workers). Set on the coordinator, which tells its workers; a worker given another is refused. Shared memory always carries fp32.",
    };
    public static readonly Option<string[]> Seeds = new("--seed") { Description = "The coordinator's HOST:PORT to join through (repeatable)." };

    /// <summary>Settings from file, environment and flags over the given defaults; rejects what cannot work.</summary>
    public static ClusterSettings Resolve(ParseResult result, ClusterSettings defaults)
    {
        var config = Sources(result);
        var section = config.GetSection(ClusterDefaults.Section);
        var seeds = section.GetSection("Seeds").GetChildren().Select(c => c.Value).OfType<string>().ToList();
        var settings = defaults with
        {
            Host = section["Host"] ?? defaults.Host,
            PublicHost = section["PublicHost"] ?? defaults.PublicHost,
            Port = Int(section, "Port") ?? defaults.Port,
            DataPort = Int(section, "DataPort") ?? defaults.DataPort,
            Seeds = seeds.Count > 0 ? seeds : defaults.Seeds,
            Secret = Secret(section) ?? defaults.Secret,
            TlsCertificate = section["TlsCertificate"] ?? defaults.TlsCertificate,
            TlsPassword = section["TlsPassword"] ?? defaults.TlsPassword,
            Transport = ParseTransport(section["Transport"]) ?? defaults.Transport,
            Wire = ParseWire(section["Wire"]) ?? defaults.Wire,
        };
        if ((settings.Validate() ?? settings.TlsProblem()) is string problem) throw new UserError(problem);
        return settings;
    }

    /// <summary>The number of workers to wait for, when set in appsettings.json or the environment.</summary>
    public static int? Workers(ParseResult result) => Int(Sources(result).GetSection(ClusterDefaults.Section), "Workers");

    private static IConfiguration Sources(ParseResult result)
    {
        var flags = new Dictionary<string, string?>();
        void Flag(string key, object? value) { if (value is not null) flags[$"{ClusterDefaults.Section}:{key}"] = value.ToString(); }
        Flag("Host", Value(result, Host));
        Flag("PublicHost", Value(result, PublicHost));
        Flag("Port", Value(result, Port));
        Flag("DataPort", Value(result, DataPort));
        Flag("SecretFile", Value(result, SecretFile));
        Flag("TlsCertificate", Value(result, TlsCertificate));
        Flag("Transport", Value(result, Transport));
        Flag("Wire", Value(result, Wire));
        var seeds = Value(result, Seeds) ?? [];
        for (int i = 0; i < seeds.Length; i++) Flag($"Seeds:{i}", seeds[i]);
        var file = Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json");
        try
        {
            return new ConfigurationBuilder()
                .AddJsonFile(file, optional: true)
                .AddEnvironmentVariables(ClusterDefaults.EnvironmentPrefix)
                .AddInMemoryCollection(flags)
                .Build();
        }
        catch (InvalidDataException e)
        {
            // The JSON reader's own sentence says where: "... LineNumber: 3 | BytePositionInLine: 0."
            var cause = e.GetBaseException().Message;
            throw new UserError($"{file} is not valid JSON ({cause.TrimEnd('.')}); fix it or remove it");
        }
    }

    /// <summary>A flag's value, or null when the command does not have that flag.</summary>
    private static T? Value<T>(ParseResult result, Option<T> option) =>
        result.CommandResult.Command.Options.Contains(option) ? result.GetValue(option) : default;

    /// <summary>
    /// The secret itself (Secret) or the file that holds it (SecretFile, what --secret-file sets). A file others can
    /// read is a warning on stderr, before any log exists: the run works, and the operator sees how to close it.
    /// </summary>
    private static string? Secret(IConfiguration section)
    {
        if (section["SecretFile"] is { } file)
        {
            var reading = VaeCluster.Cluster.SecretFile.Read(file);
            if (reading.Warning is { } warning) Console.Error.WriteLine($"warning: {warning}");
            return reading.Secret ?? throw new UserError(reading.Problem!);
        }
        if (section["Secret"] is not { Length: > 0 } secret) return null;
        var variable = $"{ClusterDefaults.EnvironmentPrefix}{ClusterDefaults.Section.ToUpperInvariant()}__SECRET";
        return ClusterSecret.Weakness(secret) is { } weak
            ? throw new UserError($"{variable} (or {ClusterDefaults.Section}:Secret in appsettings.json): {weak} (make one with: openssl rand -hex 32)")
            : secret;
    }

    /// <summary>
    /// The data-plane flags of ./vae train --cluster, whose local cluster takes nothing else from the Cluster
    /// section (its nodes are on loopback with free ports): --transport and --wire, flags only.
    /// </summary>
    public static ClusterSettings WithDataPlaneFlags(ParseResult result, ClusterSettings local) => local with
    {
        Transport = ParseTransport(Value(result, Transport)) ?? local.Transport,
        Wire = ParseWire(Value(result, Wire)) ?? local.Wire,
    };

    /// <summary>Whether the command line gave a flag that only a cluster's data plane reads (refused in one process).</summary>
    public static string? DataPlaneFlagGiven(ParseResult result) =>
        Value(result, Wire) is not null ? "--wire" : Value(result, Transport) is not null ? "--transport" : null;

    private static DataTransport? ParseTransport(string? text) => text?.ToLowerInvariant() switch
    {
        null => null,
        "auto" => DataTransport.Auto,
        "tcp" => DataTransport.Tcp,
        _ => throw new UserError($"--transport must be auto or tcp, got '{text}'"),
    };

    private static WirePrecision? ParseWire(string? text) =>
        text is null ? null
        : WirePrecisionName.TryParse(text, out var precision) ? precision
        : throw new UserError($"--wire must be fp32 or bf16, got '{text}'; use bf16 to halve the bytes on slow links, or leave it out for fp32");

    private static int? Int(IConfiguration section, string key)
    {
        var text = section[key];
        if (text is null) return null;
        return int.TryParse(text, out int value)
            ? value
            : throw new UserError($"{ClusterDefaults.Section}:{key} = '{text}' (from appsettings.json or {ClusterDefaults.EnvironmentPrefix}{ClusterDefaults.Section.ToUpperInvariant()}__{key.ToUpperInvariant()}) is not a whole number");
    }
}
