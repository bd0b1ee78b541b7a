using System.Collections.Concurrent;
using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.Proxy;

/// <summary>
/// A YARP load-balancing policy that picks a destination by rendezvous hashing of the request's
/// primary cache key over the destinations' configured ids (stable names, not addresses). Every
/// edge therefore asks the same shield for the same object, and losing a shield moves only the
/// keys it owned. Set <c>LoadBalancingPolicy: "EdgeCacheConsistentHash"</c> on the shield cluster.
/// </summary>
public sealed class ConsistentHashLoadBalancingPolicy : ILoadBalancingPolicy
{
    public const string PolicyName = "EdgeCacheConsistentHash";

    private static readonly ConcurrentDictionary<string, ulong> NodeHashes = new(StringComparer.Ordinal);

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        var keyHash = context.Features.Get<CacheKeyFeature>()?.KeyHash
            ?? RendezvousHash.HashKey(CacheKey.Build(context.Request.Scheme, context.Request.Host.Value ?? "", context.Request.Path + context.Request.QueryString, HostCachePolicy.Default));
        return Pick(keyHash, availableDestinations, exclude: null);
    }

    /// <summary>The highest-scoring destination for a key, skipping <paramref name="exclude"/>.</summary>
    public static DestinationState? Pick(ulong keyHash, IReadOnlyList<DestinationState> destinations, DestinationState? exclude)
    {
        DestinationState? best = null;
        ulong bestScore = 0;
        for (var i = 0; i < destinations.Count; i++)
        {
            var d = destinations[i];
            if (ReferenceEquals(d, exclude)) continue;
            var score = RendezvousHash.Score(keyHash, NodeHashes.GetOrAdd(d.DestinationId, RendezvousHash.HashNode));
            if (best is null || score > bestScore)
            {
                best = d;
                bestScore = score;
            }
        }

        return best;
    }
}
