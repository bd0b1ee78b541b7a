using EdgeCache.Engine;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// Where a request goes upstream: the YARP route and cluster, the destinations available when the
/// client asked, and the cluster's configured policies (picking a destination; hearing how each
/// exchange went). A fetch that outlives its client (a collapsed leader, a background refresh) keeps it.
/// </summary>
internal sealed record UpstreamTarget
{
    public required RouteModel Route { get; init; }

    public required ClusterState Cluster { get; init; }

    public required IReadOnlyList<DestinationState> Destinations { get; init; }

    public required ILoadBalancingPolicy LoadBalancing { get; init; }

    /// <summary>Null when the cluster's passive health checks are off.</summary>
    public IPassiveHealthCheckPolicy? PassiveHealth { get; init; }

    public required ulong KeyHash { get; init; }

    public required HostCachePolicy HostPolicy { get; init; }
}
