using System.Net.Sockets;
using Yarp.ReverseProxy.Forwarder;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// YARP's client factory with a per-request connect timeout: each host's policy sets its own
/// (see <see cref="EdgeCache.Engine.HostCachePolicy.ConnectTimeout"/>), carried in the request's options;
/// and the upstream certificate check of <see cref="Tls.UpstreamTls"/> (the cluster's own trusted CAs).
/// </summary>
internal sealed class TimeoutHttpClientFactory(Tls.UpstreamTls tls) : ForwarderHttpClientFactory
{
    private static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A changed trusted CA file setting needs a new client, as a changed HttpClient config does.</summary>
    protected override bool CanReuseOldClient(ForwarderHttpClientContext context) =>
        base.CanReuseOldClient(context) && TrustedCa(context.OldMetadata) == TrustedCa(context.NewMetadata);

    private static string? TrustedCa(IReadOnlyDictionary<string, string>? metadata) =>
        metadata?.TryGetValue(Tls.UpstreamTls.TrustedCaFileKey, out var path) == true ? path : null;

    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        if (context.NewConfig.DangerousAcceptAnyServerCertificate != true)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = tls.Validator(context.ClusterId, context.NewMetadata);
        }

        handler.ConnectCallback = static async (ctx, cancellationToken) =>
        {
            var timeout = ctx.InitialRequestMessage.Options.TryGetValue(UpstreamClient.ConnectTimeoutKey, out var t) ? t : DefaultConnectTimeout;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(ctx.DnsEndPoint, cts.Token).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new TimeoutException($"Connecting to {ctx.DnsEndPoint.Host}:{ctx.DnsEndPoint.Port} took longer than {timeout.TotalMilliseconds} ms.");
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
    }
}
