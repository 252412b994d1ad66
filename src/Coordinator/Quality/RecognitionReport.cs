using System.Text;

namespace VaeCluster.Coordinator.Quality;

/// <summary>How many generated digits the classifier read as the digit asked for, per digit.</summary>
public sealed record RecognitionReport(IReadOnlyList<(int Digit, int Asked, int Recognised)> PerDigit)
{
    public int Asked => PerDigit.Sum(d => d.Asked);
    public double Share => PerDigit.Sum(d => d.Recognised) / (double)Math.Max(1, Asked);

    public static RecognitionReport Of(byte[] asked, byte[] read) => new(
        asked.Zip(read).GroupBy(p => (int)p.First).OrderBy(g => g.Key)
            .Select(g => (g.Key, g.Count(), g.Count(p => p.First == p.Second))).ToList());

    public IReadOnlyDictionary<string, double> ShareByDigit =>
        PerDigit.ToDictionary(d => d.Digit.ToString(), d => Math.Round(d.Recognised / (double)d.Asked, 4));

    public string Table()
    {
        var text = new StringBuilder("digit  asked  recognised\n");
        foreach (var (digit, asked, recognised) in PerDigit)
            text.AppendLine($"{digit,5}  {asked,5}  {100.0 * recognised / asked,9:F1}%");
        text.Append($"  all  {Asked,5}  {100 * Share,9:F1}%");
        return text.ToString();
    }
}
