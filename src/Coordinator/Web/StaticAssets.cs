using System.Reflection;

namespace VaeCluster.Coordinator.Web;

/// <summary>
/// The page, its script and style, and the vendored chart library, embedded in vae.dll (see the project file), so
/// the dashboard works with no internet and no files beside the program.
/// </summary>
public static class StaticAssets
{
    private static readonly Assembly Assembly = typeof(StaticAssets).Assembly;

    /// <summary>path under wwwroot → content type</summary>
    public static readonly IReadOnlyDictionary<string, string> Served = new Dictionary<string, string>
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["app.js"] = "text/javascript; charset=utf-8",
        ["style.css"] = "text/css; charset=utf-8",
        ["vendor/chart.umd.min.js"] = "text/javascript; charset=utf-8",
        ["vendor/chart.js.LICENSE.md"] = "text/plain; charset=utf-8",
    };

    public static byte[] Read(string path)
    {
        using var stream = Assembly.GetManifestResourceStream("wwwroot/" + path)
            ?? throw new FileNotFoundException($"wwwroot/{path} is not embedded in {Assembly.GetName().Name}");
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }
}
