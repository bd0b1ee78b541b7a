using EdgeCache.Engine;
using EdgeCache.Proxy;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.Proxy.Tests;

public class ConsistentHashLoadBalancingPolicyTests
{
    private static readonly string[] Ids = ["shield-a", "shield-b", "shield-c", "shield-d"];

    [Fact]
    public void Pick_agrees_with_RendezvousHash_over_destination_ids()
    {
        var destinations = Ids.Select(id => new DestinationState(id)).ToArray();
        ulong[] nodes = [.. Ids.Select(RendezvousHash.HashNode)];

        for (var i = 0; i < 2000; i++)
        {
            var key = RendezvousHash.HashKey($"https://example.com/{i}");
            var expected = RendezvousHash.Pick(key, nodes);

            Assert.Same(destinations[expected], ConsistentHashLoadBalancingPolicy.Pick(key, destinations, exclude: null));
        }
    }

    [Fact]
    public void Pick_with_exclude_skips_that_destination_and_agrees_with_RendezvousHash()
    {
        var destinations = Ids.Select(id => new DestinationState(id)).ToArray();
        ulong[] nodes = [.. Ids.Select(RendezvousHash.HashNode)];

        for (var i = 0; i < 2000; i++)
        {
            var key = RendezvousHash.HashKey($"https://example.com/{i}");
            var owner = RendezvousHash.Pick(key, nodes);
            var expected = RendezvousHash.Pick(key, nodes, [owner]);

            var picked = ConsistentHashLoadBalancingPolicy.Pick(key, destinations, exclude: destinations[owner]);

            Assert.NotSame(destinations[owner], picked);
            Assert.Same(destinations[expected], picked);
        }
    }

    [Fact]
    public void Pick_without_destinations_returns_null()
    {
        Assert.Null(ConsistentHashLoadBalancingPolicy.Pick(1, [], exclude: null));

        var only = new DestinationState("shield-a");
        Assert.Null(ConsistentHashLoadBalancingPolicy.Pick(1, [only], exclude: only));
    }
}
