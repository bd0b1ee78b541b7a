using System.Text;
using CsCheck;
using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Yarp.ReverseProxy.Configuration;

namespace EdgeCache.Proxy.Tests;

/// <summary>
/// The fast hit path's request-head parser and route check. Whatever the parser accepts is answered
/// without Kestrel's HTTP layer, so it must accept only what RFC 9112 §2-§5 makes unambiguous and
/// refuse (hand to Kestrel) everything else.
/// </summary>
public sealed class FastHitParsingTests
{
    private static bool Parse(string head, out string target, out string host, out bool isHead, out bool close)
    {
        var ok = FastHits.RequestHead.TryParse(Encoding.Latin1.GetBytes(head), out var r);
        target = Encoding.ASCII.GetString(r.Target);
        host = Encoding.ASCII.GetString(r.Host);
        isHead = r.IsHead;
        close = r.Close;
        return ok;
    }

    [Theory]
    [InlineData("GET /a?b=c HTTP/1.1\r\nHost: www.example.com\r\n\r\n", "/a?b=c", "www.example.com", false, false)]
    [InlineData("HEAD / HTTP/1.1\r\nhost:www.example.com:8080\r\nAccept: */*\r\n\r\n", "/", "www.example.com:8080", true, false)]
    [InlineData("GET /x HTTP/1.1\r\nUser-Agent: wrk\r\nHOST: \t10.0.0.1 \r\nConnection: Close\r\n\r\n", "/x", "10.0.0.1", false, true)]
    [InlineData("GET /x HTTP/1.1\r\nHost: a.example\r\nConnection: keep-alive\r\nAccept-Encoding: gzip, br\r\nCookie: a=b\r\n\r\n", "/x", "a.example", false, false)]
    public void Plain_requests_are_accepted(string head, string target, string host, bool isHead, bool close)
    {
        Assert.True(Parse(head, out var t, out var h, out var ih, out var c));
        Assert.Equal((target, host, isHead, close), (t, h, ih, c));
    }

    [Theory]
    [InlineData("POST /x HTTP/1.1\r\nHost: a\r\n\r\n")] // only GET and HEAD
    [InlineData("get /x HTTP/1.1\r\nHost: a\r\n\r\n")] // methods are case-sensitive (RFC 9110 §9.1)
    [InlineData("GET /x HTTP/1.0\r\nHost: a\r\n\r\n")] // HTTP/1.0: Kestrel's keep-alive rules
    [InlineData("GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n")] // absolute-form
    [InlineData("GET * HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /x y HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET  /x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\n\r\n")] // no Host (RFC 9112 §3.2: 400)
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n")] // two Hosts: 400
    [InlineData("GET /x HTTP/1.1\r\nHost: \r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a b\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: user@a\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a:\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a:123456\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost : a\r\n\r\n")] // whitespace before the colon: 400 (RFC 9112 §5.1)
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n")] // obs-fold
    [InlineData("GET /x HTTP/1.1\r\nHost: a\nX: b\r\n\r\n")] // bare LF
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n")] // bare CR
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX: \u00e9\r\n\r\n")] // obs-text
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nX: \u0001\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")] // body framing
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nif-none-match: \"x\"\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Tue, 01 Jan 2030 00:00:00 GMT\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nCache-Control: no-cache\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Basic eA==\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n")]
    [InlineData("GET /x HTTP/1.1\r\nHost: a\r\n")] // incomplete
    public void Anything_else_is_left_to_Kestrel(string head) => Assert.False(Parse(head, out _, out _, out _, out _));

    [Fact]
    public void More_than_64_fields_are_left_to_Kestrel()
    {
        var fields = string.Concat(Enumerable.Range(0, 70).Select(i => $"X-{i}: v\r\n"));
        Assert.False(Parse("GET /x HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n", out _, out _, out _, out _));
    }

    private static readonly Gen<string> Name = Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"].Array[1, 12].Select(a => "X" + new string(a));

    private static readonly Gen<string> Value = Gen.Char[' ', '~'].Array[0, 30].Select(a => new string(a).Trim());

    [Fact]
    public void Generated_plain_requests_parse_to_their_target_and_host() =>
        Gen.Select(Gen.Char["abcxyz019/._~%-?=&"].Array[0, 30], Gen.Char["abcxyz019.-"].Array[1, 20], Gen.Select(Name, Value).Array[0, 10])
            .Sample((path, host, fields) =>
            {
                var target = "/" + new string(path);
                var head = $"GET {target} HTTP/1.1\r\n" + string.Concat(fields.Select(f => $"{f.Item1}: {f.Item2}\r\n")) + $"Host: {new string(host)}\r\n\r\n";
                return Parse(head, out var t, out var h, out _, out _) && t == target && h == new string(host);
            });

    [Fact]
    public void Arbitrary_bytes_never_throw_and_are_accepted_only_when_plain() =>
        Gen.Frequency(
                (1, Gen.Byte.Array[0, 200]),
                (3, Gen.Select(Gen.OneOf("GET /", "HEAD /"), Gen.Char[' ', '\u00ff'].Array[0, 120]).Select(t => Encoding.Latin1.GetBytes(t.Item1 + new string(t.Item2) + "\r\n\r\n"))))
            .Sample(bytes =>
            {
                if (!FastHits.RequestHead.TryParse(bytes, out _)) return true;

                // Accepted: every byte is visible ASCII, SP, HTAB, or part of a CRLF.
                for (var i = 0; i < bytes.Length; i++)
                {
                    var b = bytes[i];
                    if (b == '\r' && i + 1 < bytes.Length && bytes[i + 1] == '\n') continue;
                    if (b == '\n' && i > 0 && bytes[i - 1] == '\r') continue;
                    if (b is (< 0x20 and not (byte)'\t') or >= 0x7F) return false;
                }

                return true;
            });

    private static RouteConfig Route(string? path, string[]? hosts = null, string[]? methods = null) =>
        new() { RouteId = Guid.NewGuid().ToString("N"), ClusterId = "c", Match = new RouteMatch { Path = path, Hosts = hosts, Methods = methods } };

    [Fact]
    public void Only_hosts_with_a_catch_all_route_for_every_request_are_covered()
    {
        var snapshot = RoutedHosts.Build([
            Route("{**catch-all}", ["www.example.com", "*.img.example.com", "port.example.com:8080"]),
            Route("/api/{**rest}", ["api.example.com"]),
            Route("{**catch-all}", ["post.example.com"], ["POST"]),
            Route("/{**rest:int}", ["constrained.example.com"]),
        ]);
        var hosts = new RoutedHosts();
        hosts.Use(snapshot);

        Assert.True(hosts.Covers("www.example.com"));
        Assert.True(hosts.Covers("WWW.Example.COM"));
        Assert.True(hosts.Covers("a.img.example.com"));
        Assert.False(hosts.Covers("img.example.com")); // "*." needs a label in front, as ASP.NET Core's host matcher does
        Assert.False(hosts.Covers("port.example.com")); // a port-specific route: routing decides
        Assert.False(hosts.Covers("api.example.com")); // only part of the paths
        Assert.False(hosts.Covers("post.example.com")); // only some methods
        Assert.False(hosts.Covers("constrained.example.com"));
        Assert.False(hosts.Covers("other.example.com"));
        Assert.False(new RoutedHosts().Covers("www.example.com")); // nothing known yet: nothing is fast

        Assert.True(RoutedHosts.Build([Route("/{**catch-all}")]).AnyHost);
        Assert.Contains("x.example", RoutedHosts.Build([Route(null, ["x.example"])]).Names);
    }
}

/// <summary>The fast path's table of recently built keys: reused for the same bytes, rebuilt after a policy reload.</summary>
public sealed class FastHitRequestKeysTests
{
    [Fact]
    public void Keys_are_reused_for_the_same_bytes_and_rebuilt_when_host_policies_change()
    {
        var options = new EdgeCache.Proxy.EdgeCacheOptions { NodeId = "t", Role = EdgeCache.Proxy.NodeRole.Edge };
        var engine = new EdgeCache.Proxy.CacheEngine(Microsoft.Extensions.Options.Options.Create(options), EdgeCache.Proxy.CacheClock.System, new EdgeCache.Proxy.Invalidation.InvalidationState(options.Invalidation, TimeProvider.System),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<EdgeCache.Proxy.CacheEngine>.Instance, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var keys = new FastHits.RequestKeys();
        var host = "WWW.Example.com:8080"u8.ToArray();
        var target = "/a?z=1&a=2"u8.ToArray();

        var first = keys.Get(engine, host, target);
        Assert.Equal(CacheKey.Build("http", "WWW.Example.com:8080", "/a?z=1&a=2", HostCachePolicy.Default), first.Key);
        Assert.Equal("WWW.Example.com", first.HostName);
        Assert.Same(first, keys.Get(engine, host, target));
        Assert.NotSame(first, keys.Get(engine, host, "/a?z=1&a=3"u8.ToArray()));

        // A reload that sorts this host's query: the same bytes now make another key.
        var reloaded = new EdgeCache.Proxy.EdgeCacheOptions { NodeId = "t" };
        reloaded.Hosts["www.example.com"] = new HostCachePolicy { SortQuery = true };
        engine.HostPolicies.Apply(reloaded);
        var after = keys.Get(engine, host, target);
        Assert.NotEqual(first.Key, after.Key);
        Assert.Equal(CacheKey.Build("http", "WWW.Example.com:8080", "/a?z=1&a=2", reloaded.Hosts["www.example.com"]), after.Key);
    }
}

/// <summary>How a node confirms its lease against the invalidation stream's end.</summary>
public sealed class LeaseConfirmationTests
{
    private static long? AsOf(ulong applied, ulong last, (ulong, long)? previous) =>
        EdgeCache.Proxy.Invalidation.InvalidationService.ConfirmedAsOf(applied, last, now: 1000, previous);

    [Fact]
    public void A_node_at_the_stream_end_is_confirmed_now() => Assert.Equal(1000, AsOf(applied: 50, last: 50, previous: null));

    [Fact]
    public void A_node_behind_the_end_that_applied_all_the_previous_check_saw_is_confirmed_as_of_that_check() =>
        // Under a steady flow it is always an event or two behind "now", but never behind the past.
        Assert.Equal(900, AsOf(applied: 48, last: 50, previous: (47, 900)));

    [Fact]
    public void A_node_behind_the_previous_check_is_not_confirmed()
    {
        Assert.Null(AsOf(applied: 46, last: 50, previous: (47, 900)));
        Assert.Null(AsOf(applied: 46, last: 50, previous: null));
    }
}
