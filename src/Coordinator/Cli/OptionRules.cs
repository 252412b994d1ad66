using System.CommandLine;

namespace VaeCluster.Coordinator.Cli;

/// <summary>Value checks attached to options, so bad values get the CLI's usual error and usage.</summary>
public static class OptionRules
{
    public static Option<T> AtLeast<T>(this Option<T> option, T minimum) where T : struct, IComparable<T>
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && result.GetValueOrDefault<T>().CompareTo(minimum) < 0)
                result.AddError($"{option.Name} must be at least {minimum}.");
        });
        return option;
    }

    public static Option<T?> AtLeast<T>(this Option<T?> option, T minimum) where T : struct, IComparable<T>
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<T?>() is T value && value.CompareTo(minimum) < 0)
                result.AddError($"{option.Name} must be at least {minimum}.");
        });
        return option;
    }
}
