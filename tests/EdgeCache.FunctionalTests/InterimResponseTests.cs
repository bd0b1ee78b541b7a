using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// A shield whose origin is a raw socket server that sends <c>103 Early Hints</c> before every final
/// response: Kestrel, the other tests' origin, has no way to send a 1xx.
/// </summary>
public sealed class InterimOriginTopology() : Topology(shields: 1, edges: 1)
{
    public const string Hint = "</from-origin.css>; rel=preload; as=style";

    private readonly TcpListener _listener = StartListener();
    private int _requests;

    /// <summary>Requests the raw origin answered.</summary>
    public int OriginRequests => Volatile.Read(ref _requests);

    private static TcpListener StartListener()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    public override async Task InitializeAsync()
    {
        _ = AcceptAsync();
        await base.InitializeAsync();
    }

    protected override Dictionary<string, string?> ShieldConfig(string id)
    {
        var c = base.ShieldConfig(id);
        c["ReverseProxy:Clusters:origin:Destinations:origin:Address"] = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";
        return c;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync();
                _ = ServeAsync(client);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        var buffer = new byte[16 * 1024];
        var held = 0;
        try
        {
            while (true)
            {
                int end;
                while ((end = Encoding.ASCII.GetString(buffer, 0, held).IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(held));
                    if (n == 0) return;
                    held += n;
                }

                Interlocked.Increment(ref _requests);
                var rest = held - (end + 4);
                Buffer.BlockCopy(buffer, end + 4, buffer, 0, rest);
                held = rest;
                var date = DateTimeOffset.UtcNow.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 103 Early Hints\r\nLink: {Hint}\r\n\r\n" +
                    $"HTTP/1.1 200 OK\r\nDate: {date}\r\nCache-Control: max-age=600\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfinal"));
            }
        }
        catch (IOException)
        {
        }
    }

    public override async Task DisposeAsync()
    {
        _listener.Stop();
        await base.DisposeAsync();
    }
}

/// <summary>RFC 9110 §15.2 and RFC 9111 §3: a 1xx response is never stored, and the final response after it is.</summary>
public sealed class InterimResponseTests(InterimOriginTopology cdn) : IClassFixture<InterimOriginTopology>
{
    [Fact]
    public async Task An_origins_103_is_neither_stored_nor_passed_on_and_the_final_response_after_it_is_stored()
    {
        var path = "/interim/" + Guid.NewGuid().ToString("N");

        var miss = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path), [false]))[0];
        var hit = (await RawHttp.ExchangeAsync(cdn.EdgeUri(0), RawHttp.Get(path), [false]))[0];

        // The client's first response on the connection is the final one (a 103 would come first).
        Assert.StartsWith("HTTP/1.1 200", miss.StatusLine, StringComparison.Ordinal);
        Assert.Equal("final", Encoding.ASCII.GetString(miss.Body));
        Assert.StartsWith("HTTP/1.1 200", hit.StatusLine, StringComparison.Ordinal);
        Assert.Equal("final", Encoding.ASCII.GetString(hit.Body));
        Assert.StartsWith("EdgeCache-Edge; hit", hit.Header("Cache-Status"), StringComparison.Ordinal);
        Assert.Null(hit.Header("Link"));
        Assert.Equal(1, cdn.OriginRequests);
    }
}
