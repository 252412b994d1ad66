using System.Globalization;
using System.Net;

namespace VaeCluster.Coordinator.Web;

/// <summary>
/// Where the dashboard listens (--http HOST:PORT). Without the flag it is 127.0.0.1:8080, or the next free port if
/// that one is taken; a port given explicitly must be free. Port 0 means any free port.
/// </summary>
public sealed record DashboardAddress(IPAddress Host, int Port, bool Explicit)
{
    public const string Off = "off";

    public static DashboardAddress Default { get; } = new(IPAddress.Loopback, 8080, Explicit: false);

    /// <summary>Reads the flag's text (null: the flag was not given).</summary>
    /// <returns>false with a one-line <paramref name="problem"/> for text that is no address; true with a null
    /// <paramref name="address"/> for "off"</returns>
    public static bool TryParse(string? text, out DashboardAddress? address, out string? problem)
    {
        (address, problem) = (null, null);
        if (text is null)
        {
            address = Default;
            return true;
        }
        if (text.Equals(Off, StringComparison.OrdinalIgnoreCase)) return true;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            problem = $"--http expects HOST:PORT (such as 127.0.0.1:8080, or 0.0.0.0:8080 for every interface) or off, got '{text}'";
            return false;
        }
        var (hostText, portText) = (text[..colon].Trim('[', ']'), text[(colon + 1)..]);
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > IPEndPoint.MaxPort)
        {
            problem = $"--http {text}: the port must be a number from 0 to {IPEndPoint.MaxPort} (0: any free port)";
            return false;
        }
        IPAddress? host = hostText.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
            : IPAddress.TryParse(hostText, out var ip) ? ip : null;
        if (host is null)
        {
            problem = $"--http {text}: the host must be an IP address (127.0.0.1, 0.0.0.0, ::1) or localhost";
            return false;
        }
        address = new DashboardAddress(host, port, Explicit: true);
        return true;
    }

    public override string ToString() => new IPEndPoint(Host, Port).ToString();
}
