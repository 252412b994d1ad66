using System.Globalization;

namespace VaeCluster.Coordinator.Cli;

/// <summary>The value of --digit: one digit or a comma list ("7", "0,1,2"), each 0-9; repeats are allowed.</summary>
public static class DigitList
{
    public static IReadOnlyList<int> Parse(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (text.Trim().Length == 0 || parts.Any(p => p.Length == 0))
            throw new UserError($"--digit expects digits 0-9 separated by commas (e.g. 7 or 0,1,2), got '{text}'");
        return parts.Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var d) && d <= 9
            ? d
            : throw new UserError($"--digit expects digits 0-9 separated by commas, got '{p}' in '{text}'")).ToList();
    }
}
