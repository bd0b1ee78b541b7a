using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Collapsing holds for the whole fetch, not only until the response head: requests that arrive
/// while a body still streams in (the head has come, the copy is not stored yet) join the fetch at
/// the edge and at the shield instead of starting another one. This window is where the cold-miss
/// storm (loadtest/k6/cold-miss-storm.js) found objects fetched from the origin twice.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class CollapseWindowTests(Topology cdn)
{
    private const int Objects = 6;
    private const int LatePerEdge = 8;
    private const int BodyBytes = 64 * 1024;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Requests_arriving_while_the_body_streams_join_the_fetch_on_both_edges_and_the_origin_sees_each_object_once()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var paths = Enumerable.Range(0, Objects).Select(_ => "/window/" + Guid.NewGuid().ToString("N")).ToArray();
        foreach (var path in paths)
        {
            var body = Body(path);
            cdn.Origin.Map(path, async ctx =>
            {
                // The head and half the body now; the rest once the test has sent its late requests.
                ctx.Response.Headers.CacheControl = "max-age=600";
                ctx.Response.ContentLength = body.Length;
                await ctx.Response.Body.WriteAsync(body.AsMemory(0, body.Length / 2));
                await ctx.Response.Body.FlushAsync();
                await release.Task.WaitAsync(Bound);
                await ctx.Response.Body.WriteAsync(body.AsMemory(body.Length / 2));
            });
        }

        long Collapsed(IEnumerable<Microsoft.AspNetCore.Builder.WebApplication> nodes) => nodes.Sum(n => n.Metric("edgecache.requests.collapsed"));
        var edgesBefore = Collapsed(cdn.Edges);
        var shieldsBefore = Collapsed(cdn.Shields);

        // One request per object on edge 1, read to its head: the edge, its shield and the origin
        // are all past the response head, and the body is still coming.
        var leaders = await Task.WhenAll(paths.Select(p => Send(0, p, HttpCompletionOption.ResponseHeadersRead)));
        foreach (var r in leaders) Assert.Equal(HttpStatusCode.OK, r.StatusCode);

        // The storm: every object again from both edges while its body streams.
        var late = paths.SelectMany(p => Enumerable.Range(0, 2 * LatePerEdge).Select(i => Send(i % 2, p, HttpCompletionOption.ResponseContentRead))).ToArray();

        // Until every late request waits on a fetch: per object, edge 1's join its flight, edge 2's
        // all but one join edge 2's, and that one joins the shield's. A second origin request ends
        // the wait early (the collapse was broken; the assertions below say so).
        await Topology.WaitUntilAsync(
            () => paths.Any(p => cdn.Origin.Count(p) > 1)
                || (Collapsed(cdn.Edges) - edgesBefore >= Objects * (2 * LatePerEdge - 1) && Collapsed(cdn.Shields) - shieldsBefore >= Objects),
            Bound,
            "every late request joined a fetch in flight, or one reached the origin");
        release.SetResult();

        var responses = await Task.WhenAll(late);
        for (var i = 0; i < paths.Length; i++)
        {
            Assert.Equal(Body(paths[i]), await leaders[i].Content.ReadAsByteArrayAsync());
            leaders[i].Dispose();
        }

        var index = 0;
        foreach (var r in responses)
        {
            var path = paths[index++ / (2 * LatePerEdge)];
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(Body(path), await r.Content.ReadAsByteArrayAsync());
            r.Dispose();
        }

        Assert.All(paths, p => Assert.Equal(1, cdn.Origin.Count(p)));
    }

    private Task<HttpResponseMessage> Send(int edge, string path, HttpCompletionOption completion)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.EdgeUri(edge), path));
        request.Headers.Host = Topology.Site;
        return cdn.Client.SendAsync(request, completion).WaitAsync(Bound);
    }

    private static byte[] Body(string path)
    {
        var body = new byte[BodyBytes];
        var seed = StringComparer.Ordinal.GetHashCode(path);
        new Random(seed).NextBytes(body);
        return body;
    }
}
