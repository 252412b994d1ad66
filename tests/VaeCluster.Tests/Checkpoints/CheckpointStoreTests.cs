using TorchSharp;
using VaeCluster.Checkpoints;
using Xunit;
using static TorchSharp.torch;
using static VaeCluster.Tests.Checkpoints.CheckpointSamples;

namespace VaeCluster.Tests.Checkpoints;

public sealed class CheckpointStoreTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly DisposeScope scope = NewDisposeScope();
    private readonly CheckpointStore store;

    public CheckpointStoreTests() => store = new CheckpointStore(Path.Combine(dir.Path, "checkpoints"));

    public void Dispose()
    {
        scope.Dispose();
        dir.Dispose();
    }

    [Fact]
    public void Should_name_files_by_global_step()
    {
        var path = store.Save(Make(globalStep: 42));

        Assert.Equal(Path.Combine(store.Directory, "step-00000042.ckpt"), path);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void Should_keep_only_the_newest_three()
    {
        foreach (var step in new long[] { 10, 20, 30, 40, 50 }) store.Save(Make(step));

        Assert.Equal([store.PathFor(50), store.PathFor(40), store.PathFor(30)], store.List());
        Assert.Equal(3, Directory.GetFiles(store.Directory).Length);
    }

    [Fact]
    public void Should_order_by_step_even_past_eight_digits()
    {
        store.Save(Make(7));
        store.Save(Make(99_999_999));
        store.Save(Make(100_000_000));

        Assert.Equal([store.PathFor(100_000_000), store.PathFor(99_999_999), store.PathFor(7)], store.List());
    }

    [Fact]
    public void Should_delete_checkpoints_numbered_above_the_one_just_saved_which_the_run_went_back_past()
    {
        foreach (var step in new long[] { 10, 30, 40 }) store.Save(Make(step));

        var path = store.Save(Make(20)); // a run resumed from step 10, having skipped 30 and 40 as damaged

        Assert.Equal([path, store.PathFor(10)], store.List());
    }

    [Fact]
    public void Should_not_let_a_stray_high_numbered_file_keep_a_place_or_be_resumed_from()
    {
        foreach (var step in new long[] { 10, 20 }) store.Save(Make(step));
        File.Copy(store.PathFor(10), store.PathFor(99_999_999)); // a stray: some other checkpoint under a name far ahead
        var skipped = new List<string>();

        var loaded = store.LoadNewestGood(skipped.Add);

        Assert.Equal(20, loaded!.Cursor.GlobalStep);
        Assert.Equal([$"{store.PathFor(99_999_999)}: holds step 10, not the step its name says; not this run's checkpoint"], skipped);
        foreach (var step in new long[] { 30, 40 }) store.Save(Make(step));
        Assert.Equal([store.PathFor(40), store.PathFor(30), store.PathFor(20)], store.List());
    }

    [Fact]
    public void Should_skip_a_corrupted_newest_checkpoint_and_report_it()
    {
        store.Save(Make(100, seed: 1));
        var newest = store.Save(Make(200, seed: 2));
        var bytes = File.ReadAllBytes(newest);
        bytes[^10] ^= 0x40;
        File.WriteAllBytes(newest, bytes);
        var skipped = new List<string>();

        var loaded = store.LoadNewestGood(skipped.Add);

        Assert.NotNull(loaded);
        Assert.Equal(100, loaded.Cursor.GlobalStep);
        Assert.Equal(Bits(Make(100, seed: 1).Parameters[0].Tensor), Bits(loaded.Parameters[0].Tensor));
        Assert.Equal([$"{newest}: checksum mismatch: the file is corrupted"], skipped);
    }

    [Fact]
    public void Should_return_null_when_no_checkpoint_is_usable()
    {
        Assert.Null(store.LoadNewestGood(_ => Assert.Fail("nothing to skip in a missing directory")));

        var only = store.Save(Make(1));
        File.WriteAllBytes(only, [1, 2, 3]);
        var skipped = new List<string>();

        Assert.Null(store.LoadNewestGood(skipped.Add));
        Assert.Single(skipped);
    }

    [Fact]
    public void Should_keep_the_previous_checkpoint_when_a_save_fails()
    {
        var good = store.Save(Make(10, seed: 1));
        var before = File.ReadAllBytes(good);
        var failing = Make(10, seed: 2);
        failing.Optimizer.ExpAvgSq[^1].Tensor.Dispose(); // a tensor that throws when read

        Assert.ThrowsAny<Exception>(() => store.Save(failing));

        Assert.Equal(before, File.ReadAllBytes(good));
        Assert.Equal(10, store.LoadNewestGood(m => Assert.Fail(m))!.Cursor.GlobalStep);
        Assert.Equal([good], Directory.GetFiles(store.Directory));
    }

    [Fact]
    public void Should_keep_the_previous_checkpoint_when_the_new_file_cannot_be_put_in_place()
    {
        var good = store.Save(Make(10));
        Directory.CreateDirectory(store.PathFor(20)); // blocks the rename onto step-00000020.ckpt

        Assert.ThrowsAny<IOException>(() => store.Save(Make(20)));

        Assert.Equal([good], store.List());
        Assert.Equal([good], Directory.GetFiles(store.Directory)); // no temporary left behind
        Assert.Equal(10, store.LoadNewestGood(m => Assert.Fail(m))!.Cursor.GlobalStep);
    }

    [Fact]
    public void Should_ignore_stray_temporaries_and_delete_abandoned_ones_on_save()
    {
        Directory.CreateDirectory(store.Directory);
        var abandoned = Path.Combine(store.Directory, "step-00000005.ckpt.tmp-0123abcd");
        File.WriteAllBytes(abandoned, [1, 2, 3]);
        File.SetLastWriteTimeUtc(abandoned, DateTime.UtcNow.AddHours(-1));
        var inProgress = Path.Combine(store.Directory, "step-00000009.ckpt.tmp-4567ef01");
        File.WriteAllBytes(inProgress, [1, 2, 3]);
        File.SetLastWriteTimeUtc(inProgress, DateTime.UtcNow.AddHours(1));

        Assert.Empty(store.List());
        Assert.Null(store.LoadNewestGood(m => Assert.Fail(m)));

        var saved = store.Save(Make(10));

        Assert.Equal([saved], store.List());
        Assert.False(File.Exists(abandoned));
        Assert.True(File.Exists(inProgress));
    }
}
