using System.Text;

namespace VaeCluster.DataPlane;

/// <summary>
/// The headers of the data-plane frames (docs/WIRE_FORMAT.md). Each encodes to, and decodes from, the header
/// section of one frame, little-endian; decoding validates counts and refuses trailing bytes.
/// </summary>
public interface IWireMessage
{
    FrameKind Kind { get; }
    void Write(BinaryWriter writer);
}

/// <param name="SharedMemory">The worker opened the offered shared-memory regions: payloads go through them, frames carry none.</param>
/// <param name="Proof">HMAC-SHA256 with the cluster secret over the Challenge nonce, worker id and token (ClusterSecret); empty without a secret.</param>
public sealed record HelloFrame(string WorkerId, string Token, bool SharedMemory = false, string Proof = "") : IWireMessage
{
    /// <summary>Three strings and a flag: what a stranger may make the coordinator allocate before it proves the secret.</summary>
    public const int MaxHeaderBytes = 3 * WireText.MaxWireBytes + 1;
    public FrameKind Kind => FrameKind.Hello;
    public void Write(BinaryWriter w) { w.Write(WorkerId); w.Write(Token); w.Write(SharedMemory); w.Write(Proof); }
    public static HelloFrame Read(BinaryReader r) => new(WireText.Read(r), WireText.Read(r), r.ReadBoolean(), WireText.Read(r));
}

/// <summary>A nonce for the worker to sign, so the secret itself never crosses the wire and a proof cannot be replayed.</summary>
public sealed record ChallengeFrame(byte[] Nonce) : IWireMessage
{
    public const int NonceBytes = 32;
    public const int HeaderBytes = sizeof(int) + NonceBytes;
    public FrameKind Kind => FrameKind.Challenge;
    public void Write(BinaryWriter w) { w.Write(Nonce.Length); w.Write(Nonce); }

    public static ChallengeFrame Read(BinaryReader r)
    {
        int n = WireCount.Read(r, NonceBytes, "nonce length");
        if (n != NonceBytes) throw new WireError($"a challenge nonce has {NonceBytes} bytes, not {n}");
        return new ChallengeFrame(r.ReadBytes(n));
    }
}

public sealed record WelcomeFrame(IReadOnlyList<TensorLayout> Layout) : IWireMessage
{
    public const int MaxTensors = 1024;
    public FrameKind Kind => FrameKind.Welcome;

    public void Write(BinaryWriter w)
    {
        w.Write(Layout.Count);
        foreach (var t in Layout)
        {
            w.Write(t.Name);
            w.Write((byte)t.Shape.Length);
            foreach (long d in t.Shape) w.Write(d);
        }
    }

    public static WelcomeFrame Read(BinaryReader r)
    {
        int count = WireCount.Read(r, MaxTensors, "tensor count");
        var layout = new List<TensorLayout>(count);
        for (int i = 0; i < count; i++)
        {
            string name = WireText.Read(r);
            var shape = new long[r.ReadByte()];
            for (int d = 0; d < shape.Length; d++)
                if ((shape[d] = r.ReadInt64()) is < 1 or > int.MaxValue) throw new WireError($"tensor {name} has dimension {shape[d]}");
            layout.Add(new TensorLayout(name, shape));
        }
        return new WelcomeFrame(layout);
    }
}

public sealed record RefusedFrame(string Reason) : IWireMessage
{
    public FrameKind Kind => FrameKind.Refused;
    public void Write(BinaryWriter w) => w.Write(Reason);
    public static RefusedFrame Read(BinaryReader r) => new(WireText.Read(r));
}

public sealed record ByeFrame(string Reason) : IWireMessage
{
    public FrameKind Kind => FrameKind.Bye;
    public void Write(BinaryWriter w) => w.Write(Reason);
    public static ByeFrame Read(BinaryReader r) => new(WireText.Read(r));
}

/// <summary>
/// A shard to compute: the samples' indices into the training set and their slice of the step's noise.
/// <paramref name="Whole"/>: one worker actor computes it uncut (deterministic runs), see ComputeShard.
/// </summary>
public sealed record ShardFrame(long Step, int ShardIndex, int Latent, int[] SampleIndices, float[] Noise, bool Whole = false) : IWireMessage
{
    public const int MaxSamples = 1 << 20;
    public FrameKind Kind => FrameKind.Shard;

    public void Write(BinaryWriter w)
    {
        w.Write(Step);
        w.Write(ShardIndex);
        w.Write(Latent);
        w.Write(SampleIndices.Length);
        foreach (int i in SampleIndices) w.Write(i);
        foreach (float f in Noise) w.Write(f);
        w.Write(Whole);
    }

    public static ShardFrame Read(BinaryReader r)
    {
        long step = r.ReadInt64();
        int shard = r.ReadInt32();
        int latent = WireCount.Read(r, 1 << 16, "latent size");
        int n = WireCount.Read(r, MaxSamples, "sample count");
        if (n == 0 || latent == 0) throw new WireError("a shard needs at least one sample and one latent dimension");
        var indices = new int[n];
        for (int i = 0; i < n; i++) indices[i] = r.ReadInt32();
        var noise = new float[checked(n * latent)];
        for (int i = 0; i < noise.Length; i++) noise[i] = r.ReadSingle();
        bool whole = r.ReadBoolean();
        return new ShardFrame(step, shard, latent, indices, noise, whole);
    }
}

/// <summary>
/// A shard's result: its loss sum (the gradient of LossSum travels as the payload), and how long the worker
/// node computed, so the coordinator can tell transport time from compute time.
/// </summary>
public sealed record GradientFrame(long Step, int ShardIndex, int SampleCount, double LossSum, long ComputeMicros) : IWireMessage
{
    public const int HeaderBytes = 2 * sizeof(int) + 2 * sizeof(long) + sizeof(double);
    public FrameKind Kind => FrameKind.Gradient;

    public void Write(BinaryWriter w)
    {
        w.Write(Step); w.Write(ShardIndex); w.Write(SampleCount);
        w.Write(LossSum); w.Write(ComputeMicros);
    }

    public static GradientFrame Read(BinaryReader r) => new(r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadInt64());
}

/// <summary>The answer to a shard whose computation failed on the worker (it threw); the coordinator skips the step.</summary>
public sealed record ShardFailedFrame(long Step, int ShardIndex, string Reason) : IWireMessage
{
    /// <summary>Step, shard index and the reason, a bounded string.</summary>
    public const int MaxHeaderBytes = 8 + 4 + WireText.MaxWireBytes;
    public FrameKind Kind => FrameKind.ShardFailed;
    public void Write(BinaryWriter w) { w.Write(Step); w.Write(ShardIndex); w.Write(Reason.Length > 1024 ? Reason[..1024] : Reason); }
    public static ShardFailedFrame Read(BinaryReader r) => new(r.ReadInt64(), r.ReadInt32(), WireText.Read(r));
}

/// <summary>
/// A round of local training (--sync-every above 1): the node's share of each of the round's global batches
/// (<paramref name="Steps"/>, in step order), the inner Adam's learning rate, and how to start it
/// (<paramref name="Inner"/>: keep, fresh, or load the moments that follow the parameters in the payload, with
/// <paramref name="InnerStep"/> as its step count). <paramref name="ReturnInner"/>: answer the inner state too.
/// </summary>
public sealed record RoundFrame(
    long Round, int Slot, int Latent, double LearningRate, byte Inner, long InnerStep, bool ReturnInner, IReadOnlyList<ShardFrame> Steps) : IWireMessage
{
    public const int MaxSteps = 1 << 16;
    public FrameKind Kind => FrameKind.Round;
    /// <summary>Whether the payload carries inner Adam moments after the parameters.</summary>
    public bool LoadsInner => Inner == (byte)Protocol.InnerStartKind.Load;

    public void Write(BinaryWriter w)
    {
        w.Write(Round); w.Write(Slot); w.Write(Latent); w.Write(LearningRate);
        w.Write(Inner); w.Write(InnerStep); w.Write(ReturnInner);
        w.Write(Steps.Count);
        foreach (var s in Steps)
        {
            w.Write(s.Step); w.Write(s.ShardIndex); w.Write(s.SampleIndices.Length);
            foreach (int i in s.SampleIndices) w.Write(i);
            foreach (float f in s.Noise) w.Write(f);
        }
    }

    public static RoundFrame Read(BinaryReader r)
    {
        long round = r.ReadInt64();
        int slot = r.ReadInt32();
        int latent = WireCount.Read(r, 1 << 16, "latent size");
        double lr = r.ReadDouble();
        byte inner = r.ReadByte();
        if (inner > 2) throw new WireError($"inner start {inner} is not 0 (keep), 1 (fresh) or 2 (load)");
        long innerStep = r.ReadInt64();
        bool returnInner = r.ReadBoolean();
        int count = WireCount.Read(r, MaxSteps, "round steps");
        if (count == 0 || latent == 0) throw new WireError("a round needs at least one step and one latent dimension");
        if (!double.IsFinite(lr) || lr <= 0) throw new WireError($"inner learning rate {lr} is not a positive number");
        var steps = new List<ShardFrame>(count);
        for (int k = 0; k < count; k++)
        {
            long step = r.ReadInt64();
            int shard = r.ReadInt32();
            int n = WireCount.Read(r, ShardFrame.MaxSamples, "sample count");
            if (n == 0) throw new WireError("a round step needs at least one sample");
            var indices = new int[n];
            for (int i = 0; i < n; i++) indices[i] = r.ReadInt32();
            var noise = new float[checked(n * latent)];
            for (int i = 0; i < noise.Length; i++) noise[i] = r.ReadSingle();
            steps.Add(new ShardFrame(step, shard, latent, indices, noise));
        }
        return new RoundFrame(round, slot, latent, lr, inner, innerStep, returnInner, steps);
    }
}

/// <summary>
/// A node's round: per step its global step, samples and loss sum (NaN: passed over), the node's compute time; the
/// payload is the parameter change (start minus end), followed by the inner Adam moments when
/// <paramref name="HasInner"/> (with <paramref name="InnerStep"/> as its step count).
/// </summary>
public sealed record RoundResultFrame(long Round, int Slot, IReadOnlyList<Protocol.RoundStepLoss> Steps, long ComputeMicros, bool HasInner, long InnerStep) : IWireMessage
{
    public const int MaxHeaderBytes = 8 + 4 + 4 + RoundFrame.MaxSteps * (8 + 4 + 8) + 8 + 1 + 8;
    public FrameKind Kind => FrameKind.RoundResult;

    public void Write(BinaryWriter w)
    {
        w.Write(Round); w.Write(Slot);
        w.Write(Steps.Count);
        foreach (var s in Steps) { w.Write(s.Step); w.Write(s.SampleCount); w.Write(s.LossSum); }
        w.Write(ComputeMicros); w.Write(HasInner); w.Write(InnerStep);
    }

    public static RoundResultFrame Read(BinaryReader r)
    {
        long round = r.ReadInt64();
        int slot = r.ReadInt32();
        int count = WireCount.Read(r, RoundFrame.MaxSteps, "round steps");
        var steps = new List<Protocol.RoundStepLoss>(count);
        for (int k = 0; k < count; k++) steps.Add(new Protocol.RoundStepLoss(r.ReadInt64(), r.ReadInt32(), r.ReadDouble()));
        return new RoundResultFrame(round, slot, steps, r.ReadInt64(), r.ReadBoolean(), r.ReadInt64());
    }
}

/// <summary>Strings on the wire: BinaryWriter's length-prefixed UTF-8, at most 4 KiB.</summary>
internal static class WireText
{
    public const int MaxBytes = 4096;
    /// <summary>A string at its longest: the 7-bit-encoded length (2 bytes up to 16,383) and the text.</summary>
    public const int MaxWireBytes = MaxBytes + 2;

    public static string Read(BinaryReader r)
    {
        string s = r.ReadString();
        if (Encoding.UTF8.GetByteCount(s) > MaxBytes) throw new WireError("a text field is longer than 4 KiB");
        return s;
    }
}

internal static class WireCount
{
    public static int Read(BinaryReader r, int max, string what)
    {
        int n = r.ReadInt32();
        if (n < 0 || n > max) throw new WireError($"{what} {n} is out of range (0-{max})");
        return n;
    }
}
