using System.Globalization;
using System.Text;
using VaeCluster.Coordinator.Monitoring;

namespace VaeCluster.Coordinator.Web;

/// <summary>
/// The run's status in Prometheus' text exposition format (version 0.0.4): counters since this process started,
/// gauges of the moment, and the histogram of step times. Written by hand: a dozen series need no library.
/// </summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Format(RunStatus s)
    {
        var text = new StringBuilder();
        var c = s.Counters;
        Metric(text, "vae_steps_applied_total", "counter", "Global steps the coordinator finished since this process started (skipped ones included).", c.StepsApplied);
        Metric(text, "vae_samples_total", "counter", "Training samples in those steps.", c.Samples);
        Metric(text, "vae_steps_skipped_total", "counter", "Steps skipped because their loss or gradient was not finite.", c.StepsSkipped);
        Metric(text, "vae_shards_reassigned_total", "counter", "Shards given to another worker after their worker missed its deadline or left.", c.ShardsReassigned);
        Metric(text, "vae_checkpoints_total", "counter", "Checkpoints written.", c.Checkpoints);
        if (s.Loss is double loss) Metric(text, "vae_train_loss", "gauge", "Train loss over the last seconds of steps, nats per image.", loss);
        if (s.TestLoss.Count > 0) Metric(text, "vae_test_loss", "gauge", "Test loss after the last closed epoch, nats per image.", s.TestLoss[^1].TestLoss);
        if (s.SamplesPerSecond is double rate) Metric(text, "vae_samples_per_second", "gauge", "Training speed over the last seconds.", rate);
        Metric(text, "vae_epoch", "gauge", "The epoch being trained (1-based; 0 before the first step).", s.Epoch);
        Metric(text, "vae_workers", "gauge", "Workers present.", s.Workers);
        Metric(text, "vae_ready", "gauge", "1 while training or ready to train, else 0.", s.Ready ? 1 : 0);
        Histogram(text, "vae_step_seconds", "Time from one applied step to the next within an epoch.", s.StepSeconds);

        var nodes = s.Nodes.Where(n => n.BytesIn > 0 || n.BytesOut > 0).ToList();
        if (nodes.Count > 0)
        {
            Header(text, "vae_data_plane_bytes_total", "counter", "Tensor bytes moved on the data plane per worker node: in = gradients received, out = parameters sent.");
            foreach (var n in nodes)
            {
                Sample(text, "vae_data_plane_bytes_total", $"node=\"{Escape(n.Node)}\",direction=\"in\"", n.BytesIn);
                Sample(text, "vae_data_plane_bytes_total", $"node=\"{Escape(n.Node)}\",direction=\"out\"", n.BytesOut);
            }
        }
        return text.ToString();
    }

    private static void Metric(StringBuilder text, string name, string type, string help, double value)
    {
        Header(text, name, type, help);
        Sample(text, name, null, value);
    }

    private static void Histogram(StringBuilder text, string name, string help, StepHistogram h)
    {
        Header(text, name, "histogram", help);
        long cumulative = 0;
        for (int i = 0; i < h.Bounds.Count; i++)
        {
            cumulative += h.Counts[i];
            Sample(text, name + "_bucket", $"le=\"{Number(h.Bounds[i])}\"", cumulative);
        }
        Sample(text, name + "_bucket", "le=\"+Inf\"", h.Count);
        Sample(text, name + "_sum", null, h.Sum);
        Sample(text, name + "_count", null, h.Count);
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, string? labels, double value)
    {
        text.Append(name);
        if (labels is not null) text.Append('{').Append(labels).Append('}');
        text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static string Number(double v) => v switch
    {
        double.NaN => "NaN",
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ => v.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
