namespace VaeCluster.Model;

/// <summary>The names users type and files store for a <see cref="ModelKind"/>: "vae", "mixture".</summary>
public static class ModelKindName
{
    public static string Of(ModelKind kind) => kind switch
    {
        ModelKind.Vae => "vae",
        ModelKind.Mixture => "mixture",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public static bool TryParse(string text, out ModelKind kind)
    {
        foreach (var k in Enum.GetValues<ModelKind>())
        {
            if (string.Equals(Of(k), text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                kind = k;
                return true;
            }
        }
        kind = default;
        return false;
    }
}
