using System.CommandLine;
using System.Globalization;

namespace VaeCluster.Coordinator.Cli;

/// <summary>
/// Numeric flags that parse and range-check their value themselves, so a bad value gets one plain sentence
/// ("--epochs expects a whole number, got 'ten'"), which the CLI prints as its one line (ParseErrors).
/// </summary>
public static class NumberOption
{
    private delegate bool TryParse<T>(string text, out T value);

    public static Option<int?> Whole(string name, string description, int minimum, int? maximum = null) =>
        Create<int>(name, description, minimum, (string s, out int v) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v), "a whole number", maximum);

    public static Option<long?> Long(string name, string description) =>
        Create<long>(name, description, long.MinValue, (string s, out long v) => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v), "a whole number");

    public static Option<double?> Positive(string name, string description, double maximum = double.MaxValue) =>
        Create<double>(name, description, double.Epsilon, (string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && double.IsFinite(v), "a number", maximum);

    /// <summary>A number from 0 up to (not including) <paramref name="below"/>.</summary>
    public static Option<double?> Fraction(string name, string description, double below = 1)
    {
        var option = Create<double>(name, description, 0.0, (string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && double.IsFinite(v), "a number");
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is double v && v >= below)
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} must be below {below}."));
        });
        return option;
    }

    private static Option<T?> Create<T>(string name, string description, T minimum, TryParse<T> parse, string kind, T? maximum = null)
        where T : struct, IComparable<T> => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            var text = result.Tokens.Single().Value;
            if (!parse(text, out var value))
            {
                result.AddError($"{name} expects {kind}, got '{text}'.");
                return null;
            }
            if (value.CompareTo(minimum) < 0)
            {
                result.AddError(Equals(minimum, double.Epsilon) ? $"{name} must be greater than 0." : $"{name} must be at least {minimum}.");
                return null;
            }
            if (maximum is { } most && value.CompareTo(most) > 0)
            {
                result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} must be at most {most}."));
                return null;
            }
            return value;
        },
    };
}
