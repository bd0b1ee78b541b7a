using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Health;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>A <see cref="DeadShieldTopology"/> whose edge's shield cluster names <see cref="RecordingPassivePolicy"/>.</summary>
public sealed class RecordingPolicyTopology : DeadShieldTopology
{
    public RecordingPassivePolicy Policy { get; } = new();

    protected override string PassivePolicy => RecordingPassivePolicy.PolicyName;

    protected override void ConfigureNode(NodeRole role, WebApplicationBuilder builder)
    {
        if (role == NodeRole.Edge) builder.Services.AddSingleton<IPassiveHealthCheckPolicy>(Policy);
    }
}
