using System.Collections.Frozen;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// A cluster's YARP policies, found by the names its <c>ReverseProxy</c> configuration gives them
/// (case-insensitive, with YARP's defaults: PowerOfTwoChoices, TransportFailureRate). The cache's
/// forwarder step replaces YARP's load-balancing and passive health steps, so it must honour the
/// same settings. YARP's configuration validation already refuses unknown names; the checks here
/// fail clearly should a configuration reach a request without that validation.
/// </summary>
internal sealed class UpstreamPolicies(IEnumerable<ILoadBalancingPolicy> loadBalancing, IEnumerable<IPassiveHealthCheckPolicy> passiveHealth)
{
    private const string DefaultPassivePolicy = "TransportFailureRate";

    private readonly FrozenDictionary<string, ILoadBalancingPolicy> _loadBalancing = loadBalancing.ToFrozenDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
    private readonly FrozenDictionary<string, IPassiveHealthCheckPolicy> _passiveHealth = passiveHealth.ToFrozenDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>The policy that picks a destination for each request (<c>LoadBalancingPolicy</c>).</summary>
    public ILoadBalancingPolicy LoadBalancing(ClusterConfig cluster)
    {
        var name = string.IsNullOrEmpty(cluster.LoadBalancingPolicy) ? LoadBalancingPolicies.PowerOfTwoChoices : cluster.LoadBalancingPolicy;
        return _loadBalancing.TryGetValue(name, out var policy) ? policy
            : throw new InvalidOperationException($"Cluster '{cluster.ClusterId}' names the load balancing policy '{name}', which is not registered (registered: {string.Join(", ", _loadBalancing.Keys)}).");
    }

    /// <summary>The policy told of every exchange (<c>HealthCheck:Passive:Policy</c>), or null when passive checks are off.</summary>
    public IPassiveHealthCheckPolicy? PassiveHealth(ClusterConfig cluster)
    {
        var passive = cluster.HealthCheck?.Passive;
        if (passive?.Enabled != true) return null;
        var name = string.IsNullOrEmpty(passive.Policy) ? DefaultPassivePolicy : passive.Policy;
        return _passiveHealth.TryGetValue(name, out var policy) ? policy
            : throw new InvalidOperationException($"Cluster '{cluster.ClusterId}' names the passive health check policy '{name}', which is not registered (registered: {string.Join(", ", _passiveHealth.Keys)}).");
    }
}
