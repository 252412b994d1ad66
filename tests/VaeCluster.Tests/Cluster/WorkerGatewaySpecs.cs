using Akka.Actor;
using Akka.TestKit.Xunit2;
using VaeCluster.Cluster;
using VaeCluster.Coordinator.Cluster;
using VaeCluster.DataPlane;
using VaeCluster.Hosting;
using VaeCluster.Model;
using VaeCluster.Protocol;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Cluster;

/// <summary>
/// The coordinator side of cluster mode: the gateway admitting workers, and a WorkerLink moving a shard and its
/// gradient over a real loopback data-plane connection. A TestProbe plays the coordinator actor.
/// </summary>
public sealed class WorkerGatewaySpecs : TestKit, IDisposable
{
    private const int TrainSamples = 1000;
    private const string DataSha256 = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
    private const string Secret = "the-cluster-secret";
    private readonly Vae master = new(ModelShape.Reference);
    private readonly DataPlaneListener listener = DataPlaneListener.Bind("127.0.0.1", 0, Serilog.Core.Logger.None);
    private readonly Akka.TestKit.TestProbe coordinator;
    private readonly IActorRef gateway;

    public WorkerGatewaySpecs() : base($"{AkkaHost.PinnedDispatcher} {{ type = PinnedDispatcher }}")
    {
        coordinator = CreateTestProbe();
        var settings = new GatewaySettings("127.0.0.1", listener.Port, ModelShape.Reference, TrainSamples, DataSha256, TensorLayout.Of(master.NamedParameters()),
            Secret: Secret);
        gateway = Sys.ActorOf(WorkerGateway.Props(coordinator.Ref, settings, Serilog.Core.Logger.None));
        listener.AcceptInto(gateway);
    }

    void IDisposable.Dispose()
    {
        listener.Dispose();
        master.Dispose();
        Shutdown();
    }

    [Fact]
    public void Refuses_a_worker_of_another_protocol_or_with_too_little_data()
    {
        var node = CreateTestProbe();
        node.Send(gateway, new JoinTraining("w1", ProtocolVersion: 99, TrainSamples, DataSha256));
        Assert.Contains("protocol 99", node.ExpectMsg<JoinRefused>().Reason);
        node.Send(gateway, new JoinTraining("w1", JoinTraining.CurrentProtocol, TrainSamples: 10, DataSha256));
        Assert.Contains("loaded 10 training images", node.ExpectMsg<JoinRefused>().Reason);
    }

    [Fact]
    public void Refuses_a_worker_whose_training_data_differ_even_with_the_same_count()
    {
        var node = CreateTestProbe();
        string other = new('a', 64);
        node.Send(gateway, new JoinTraining("w1", JoinTraining.CurrentProtocol, TrainSamples, other));
        var refused = node.ExpectMsg<JoinRefused>();
        Assert.Equal("worker w1's training data differ from the coordinator's (sha256 aaaaaaaaaaaa.. vs 5eed5eed5eed..); give both the same --data",
            refused.Reason);
        node.Send(gateway, new JoinTraining("w1", JoinTraining.CurrentProtocol, TrainSamples, DataSha256));
        node.ExpectMsg<DataPlaneOffer>(); // the same worker with the right data is welcome
    }

    [Fact]
    public void Announces_its_wire_and_refuses_a_worker_started_with_another()
    {
        var node = CreateTestProbe();
        node.Send(gateway, new JoinTraining("w1", JoinTraining.CurrentProtocol, TrainSamples, DataSha256, Wire: WirePrecision.Bf16));
        Assert.Equal("worker w1 was started with --wire bf16, the coordinator sends fp32: give every node the same --wire, or none to workers (they take the coordinator's)",
            node.ExpectMsg<JoinRefused>().Reason);
        node.Send(gateway, new JoinTraining("w1", JoinTraining.CurrentProtocol, TrainSamples, DataSha256, Wire: WirePrecision.Fp32));
        Assert.Equal(WirePrecision.Fp32, node.ExpectMsg<DataPlaneOffer>().Wire);
        node.Send(gateway, new JoinTraining("w2", JoinTraining.CurrentProtocol, TrainSamples, DataSha256)); // no --wire: the coordinator's
        Assert.Equal(WirePrecision.Fp32, node.ExpectMsg<DataPlaneOffer>().Wire);
    }

    [Fact]
    public void Refuses_a_data_plane_connection_with_a_token_it_did_not_issue()
    {
        var node = CreateTestProbe();
        node.Send(gateway, new JoinTraining("w1", JoinTraining.CurrentProtocol, TrainSamples, DataSha256));
        node.ExpectMsg<DataPlaneOffer>();
        using var channel = FrameChannel.Connect("127.0.0.1", listener.Port, TimeSpan.FromSeconds(5));
        channel.SetReceiveTimeout(TimeSpan.FromSeconds(5));
        var challenge = Assert.IsType<ChallengeFrame>(channel.Receive().Message);
        channel.Send(new HelloFrame("w1", "not-the-token", Proof: ClusterSecret.Prove(Secret, challenge.Nonce, "w1", "not-the-token")));
        Assert.Contains("unknown or reused token", Assert.IsType<RefusedFrame>(channel.Receive().Message).Reason);
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Refuses_a_worker_that_cannot_prove_the_cluster_secret_even_with_a_valid_token()
    {
        var node = CreateTestProbe();
        node.Send(gateway, new JoinTraining("w1", JoinTraining.CurrentProtocol, TrainSamples, DataSha256));
        var offer = node.ExpectMsg<DataPlaneOffer>();
        using var channel = FrameChannel.Connect(offer.Host, offer.Port, TimeSpan.FromSeconds(5));
        channel.SetReceiveTimeout(TimeSpan.FromSeconds(5));
        var challenge = Assert.IsType<ChallengeFrame>(channel.Receive().Message);
        channel.Send(new HelloFrame("w1", offer.Token, Proof: ClusterSecret.Prove("a-guess", challenge.Nonce, "w1", offer.Token)));
        Assert.Contains("wrong cluster secret", Assert.IsType<RefusedFrame>(channel.Receive().Message).Reason);
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // never registered, so it can never send a gradient
    }

    [Fact]
    public void A_link_ships_parameters_out_and_brings_the_gradient_back_to_the_coordinator()
    {
        var (channel, link) = Admit("w1");
        using var _ = channel;
        coordinator.Reply(new WorkerAccepted("w1", new SharedParameters(master.NamedParameters())));

        var shard = new ComputeShard(Step: 0, ShardIndex: 0, SampleIndices: [3, 4], Noise: new float[2 * 20]);
        coordinator.Send(link, shard);
        var frame = channel.Receive();
        var got = Assert.IsType<ShardFrame>(frame.Message);
        Assert.Equal(shard.SampleIndices, got.SampleIndices);
        var received = master.NamedParameters().Select(p => zeros_like(p.Tensor)).ToList();
        channel.ReceivePayload(frame, received, PayloadCodec.Fp32);
        Assert.All(master.NamedParameters().Zip(received), p => Assert.True(p.First.Tensor.equal(p.Second).all().item<bool>()));

        var gradient = master.NamedParameters().Select(p => randn_like(p.Tensor)).ToList();
        channel.Send(new GradientFrame(0, 0, 2, 300, 1000), gradient, PayloadCodec.Fp32);
        var result = coordinator.ExpectMsg<ShardGradient>();
        Assert.Equal(link, coordinator.LastSender);
        Assert.Equal((0L, 0, "w1", 2, 300.0), (result.Step, result.ShardIndex, result.WorkerId, result.SampleCount, result.LossSum));
        Assert.All(gradient.Zip(result.Gradient.Tensors), p => Assert.True(p.First.equal(p.Second).all().item<bool>()));
        result.Gradient.Dispose();
    }

    [Fact]
    public void A_link_registers_the_nodes_actors_and_sends_a_steps_parameters_once_however_many_of_its_shards_the_node_holds()
    {
        var (channel, link) = Admit("pair", actors: 2);
        using var _ = channel;
        coordinator.Reply(new WorkerAccepted("pair", new SharedParameters(master.NamedParameters())));
        coordinator.Send(link, new ComputeShard(0, 0, [1, 2], new float[2 * 20], Whole: true));
        coordinator.Send(link, new ComputeShard(0, 2, [5], new float[20], Whole: true));
        var first = channel.Receive();
        Assert.Equal(TensorLayout.PayloadBytes(TensorLayout.Of(master.NamedParameters())), first.PayloadBytes);
        channel.SkipPayload(first);
        var second = channel.Receive();
        Assert.Equal(0, second.PayloadBytes);
        Assert.True(Assert.IsType<ShardFrame>(second.Message).Whole);

        // Answers may come in any order; each becomes the ShardGradient of its own shard.
        channel.Send(new GradientFrame(0, 2, 1, 10, 0), master.NamedParameters().Select(p => zeros_like(p.Tensor)).ToList(), PayloadCodec.Fp32);
        channel.Send(new GradientFrame(0, 0, 2, 20, 0), master.NamedParameters().Select(p => zeros_like(p.Tensor)).ToList(), PayloadCodec.Fp32);
        var answers = new[] { coordinator.ExpectMsg<ShardGradient>(), coordinator.ExpectMsg<ShardGradient>() };
        Assert.Equal([2, 0], answers.Select(a => a.ShardIndex));
        foreach (var a in answers) a.Gradient.Dispose();
    }

    [Fact]
    public void A_link_that_receives_a_gradient_for_another_step_drops_the_worker_without_forwarding_it()
    {
        var (channel, link) = AdmitWithShardOutstanding(step: 5);
        using var _ = channel;

        // The link refuses on the header and may cut the connection before the payload is through: that is fine.
        try { channel.Send(new GradientFrame(Step: 4, 0, 1, 1, 0), master.NamedParameters().Select(p => zeros_like(p.Tensor)).ToList(), PayloadCodec.Fp32); }
        catch (System.Net.Sockets.SocketException) { }
        ExpectTerminated(link);
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_link_refuses_a_gradient_holding_nan_with_a_finite_loss_and_drops_the_worker()
    {
        var (channel, link) = AdmitWithShardOutstanding(step: 0);
        using var _ = channel;

        var corrupt = master.NamedParameters().Select(p => zeros_like(p.Tensor)).ToList();
        corrupt[3][0] = float.NaN;
        channel.Send(new GradientFrame(0, 0, 1, LossSum: 500, 0), corrupt, PayloadCodec.Fp32);
        ExpectTerminated(link);
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // never reaches the coordinator
    }

    [Fact]
    public void Refuses_a_second_live_worker_under_a_taken_name_and_gives_the_name_to_it_once_the_holder_is_gone()
    {
        var (channel, link) = Admit("w1");
        Watch(link);
        var twin = CreateTestProbe();
        twin.Send(gateway, Join("w1"));
        Assert.Matches(@"^worker name w1 is taken by a live node at 127\.0\.0\.1:\d+; give each worker its own --name$", twin.ExpectMsg<JoinRefused>().Reason);
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the holder keeps its place

        channel.Dispose(); // the holder dies: its data plane ends, and its link with it
        ExpectTerminated(link);
        AwaitAssert(() =>
        {
            twin.Send(gateway, Join("w1"));
            twin.ExpectMsg<DataPlaneOffer>(TimeSpan.FromSeconds(1));
        }, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Refuses_the_data_plane_to_the_second_of_two_workers_offered_the_same_name()
    {
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        first.Send(gateway, Join("w1"));
        var firstOffer = first.ExpectMsg<DataPlaneOffer>();
        second.Send(gateway, Join("w1")); // before the first connected: nobody holds the name yet
        var secondOffer = second.ExpectMsg<DataPlaneOffer>();

        using var holder = ConnectDataPlane("w1", firstOffer);
        Assert.IsType<WelcomeFrame>(holder.Receive().Message);
        using var twin = ConnectDataPlane("w1", secondOffer);
        Assert.Contains("worker name w1 is taken by a live node", Assert.IsType<RefusedFrame>(twin.Receive().Message).Reason);
        coordinator.ExpectMsg<RegisterWorker>();
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_node_that_joins_again_under_its_own_name_takes_over_from_its_old_link()
    {
        var node = CreateTestProbe();
        var (channel, link) = Admit("w1", node: node);
        using var _ = channel;
        Watch(link);
        node.Send(gateway, Join("w1"));
        using var again = ConnectDataPlane("w1", node.ExpectMsg<DataPlaneOffer>());
        Assert.IsType<WelcomeFrame>(again.Receive().Message);
        ExpectTerminated(link); // replaced: the coordinator reassigns what the old link held
        Assert.Equal("w1", coordinator.ExpectMsg<RegisterWorker>().WorkerId);
    }

    private static JoinTraining Join(string workerId, int actors = 1) =>
        new(workerId, JoinTraining.CurrentProtocol, TrainSamples, DataSha256, actors);

    /// <summary>Connects to the offered data plane and says Hello with the offer's token and the secret's proof.</summary>
    private static FrameChannel ConnectDataPlane(string workerId, DataPlaneOffer offer)
    {
        var channel = FrameChannel.Connect(offer.Host, offer.Port, TimeSpan.FromSeconds(5));
        channel.SetReceiveTimeout(TimeSpan.FromSeconds(10));
        var challenge = Assert.IsType<ChallengeFrame>(channel.Receive().Message);
        channel.Send(new HelloFrame(workerId, offer.Token, Proof: ClusterSecret.Prove(Secret, challenge.Nonce, workerId, offer.Token)));
        return channel;
    }

    /// <summary>An admitted, accepted link that has sent one single-sample shard of <paramref name="step"/>; the test watches it.</summary>
    private (FrameChannel Channel, IActorRef Link) AdmitWithShardOutstanding(long step)
    {
        var (channel, link) = Admit("w1");
        coordinator.Reply(new WorkerAccepted("w1", new SharedParameters(master.NamedParameters())));
        coordinator.Send(link, new ComputeShard(step, 0, [1], new float[20]));
        channel.SkipPayload(channel.Receive());
        Watch(link);
        return (channel, link);
    }

    /// <summary>Joins like a worker node does and connects the data plane; returns the connection and the new link.</summary>
    private (FrameChannel Channel, IActorRef Link) Admit(string workerId, int actors = 1, Akka.TestKit.TestProbe? node = null)
    {
        node ??= CreateTestProbe();
        node.Send(gateway, Join(workerId, actors));
        var channel = ConnectDataPlane(workerId, node.ExpectMsg<DataPlaneOffer>());
        var welcome = Assert.IsType<WelcomeFrame>(channel.Receive().Message);
        Assert.True(TensorLayout.SameAs(TensorLayout.Of(master.NamedParameters()), welcome.Layout));
        var register = coordinator.ExpectMsg<RegisterWorker>();
        Assert.Equal((workerId, actors), (register.WorkerId, register.Actors));
        return (channel, coordinator.LastSender);
    }
}
