using System.Text.Json;
using System.Text.Json.Serialization;

namespace VaeCluster.Coordinator.Web;

/// <summary>How the run's status is written for the page and /api/status.</summary>
public static class DashboardJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        // A diverged step has a NaN loss; JSON has no NaN, so it is written as the string "NaN" rather than failing.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}
