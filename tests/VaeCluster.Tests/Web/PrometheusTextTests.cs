using System.Text.RegularExpressions;
using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Coordinator.Web;
using Xunit;

namespace VaeCluster.Tests.Web;

/// <summary>/metrics in Prometheus' text format: the series the issue asks for, well formed.</summary>
public sealed class PrometheusTextTests
{
    private static RunStatus Status() => RunStatus.Starting(3, 100) with
    {
        Phase = "training",
        Loss = 120.5,
        Workers = 2,
        Counters = new RunCounters(StepsApplied: 7, Samples: 896, StepsSkipped: 1, ShardsReassigned: 2, Checkpoints: 3),
        StepSeconds = new StepHistogram(StepHistogram.DefaultBounds, [0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1], 12.1, 7),
        TestLoss = [new EpochPoint(1, 100, 130, 125.5)],
        Nodes = [new NodeRow("worker \"1\"", "10.0.0.5", ["worker-1"], "training", 7, 700, 710, 0.1)],
    };

    [Fact]
    public void Should_expose_every_named_series_with_its_type()
    {
        var text = PrometheusText.Format(Status());
        foreach (var (name, type) in new[]
                 {
                     ("vae_steps_applied_total", "counter"), ("vae_samples_total", "counter"), ("vae_train_loss", "gauge"),
                     ("vae_test_loss", "gauge"), ("vae_workers", "gauge"), ("vae_step_seconds", "histogram"),
                     ("vae_data_plane_bytes_total", "counter"), ("vae_shards_reassigned_total", "counter"),
                     ("vae_steps_skipped_total", "counter"), ("vae_checkpoints_total", "counter"),
                 })
            Assert.Contains($"# TYPE {name} {type}\n", text);
        Assert.Contains("vae_steps_applied_total 7\n", text);
        Assert.Contains("vae_test_loss 125.5\n", text);
        Assert.Contains("vae_data_plane_bytes_total{node=\"worker \\\"1\\\"\",direction=\"in\"} 700\n", text);
        Assert.Contains("vae_data_plane_bytes_total{node=\"worker \\\"1\\\"\",direction=\"out\"} 710\n", text);
    }

    [Fact]
    public void Should_write_histogram_buckets_cumulatively_up_to_the_count()
    {
        var text = PrometheusText.Format(Status());
        var buckets = Regex.Matches(text, "vae_step_seconds_bucket\\{le=\"([^\"]+)\"\\} (\\d+)").Select(m => (m.Groups[1].Value, long.Parse(m.Groups[2].Value))).ToList();
        Assert.Equal(StepHistogram.DefaultBounds.Count + 1, buckets.Count);
        Assert.Equal(("0.01", 4L), buckets[3]);
        Assert.Equal(("+Inf", 7L), buckets[^1]);
        Assert.True(buckets.Zip(buckets.Skip(1)).All(p => p.First.Item2 <= p.Second.Item2));
        Assert.Contains("vae_step_seconds_sum 12.1\n", text);
        Assert.Contains("vae_step_seconds_count 7\n", text);
    }

    [Fact]
    public void Should_leave_out_gauges_with_no_value_yet()
    {
        var text = PrometheusText.Format(RunStatus.Starting(3, 100));
        Assert.DoesNotContain("vae_train_loss", text);
        Assert.DoesNotContain("vae_test_loss", text);
        Assert.DoesNotContain("vae_data_plane_bytes_total", text);
        Assert.Contains("vae_steps_applied_total 0\n", text);
    }
}
