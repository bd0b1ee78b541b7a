using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using EdgeCache.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace EdgeCache.SamplePublisher;

/// <summary>
/// The sample's minimal API: product pages for the CDN (<c>GET /products</c>, <c>GET /products/{id}</c>) with
/// <c>Surrogate-Key</c> tags, product lookups through HybridCache, and <c>PUT /products/{id}</c>, which writes
/// the database and then invalidates both caches by tag (<see cref="CatalogueInvalidation"/>).
/// </summary>
public static class PublisherApp
{
    /// <summary>The header the CDN reads tags from (space-separated; it also reads <c>Cache-Tag</c>), and strips at the edge.</summary>
    public const string SurrogateKey = "Surrogate-Key";

    /// <summary>Says whether this instance's HybridCache answered the lookup (<c>hybridcache</c>) or the database did.</summary>
    public const string LookupHeader = "X-Catalogue-Lookup";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        configure?.Invoke(builder);
        var services = builder.Services;
        services.AddOptions<SamplePublisherOptions>().Bind(builder.Configuration.GetSection(SamplePublisherOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SamplePublisherOptions>, Validator>();
        services.AddEdgeCacheClient(builder.Configuration.GetSection(EdgeCacheClientOptions.SectionName));

        var sample = builder.Configuration.GetSection(SamplePublisherOptions.SectionName).Get<SamplePublisherOptions>() ?? new();
        if (sample.L2.Length > 0)
        {
            // HybridCache takes the registered IDistributedCache as its L2.
            services.AddStackExchangeRedisCache(o =>
            {
                o.Configuration = sample.L2;
                o.InstanceName = sample.L2InstanceName;
            });
        }

        var hybrid = services.AddHybridCache();
        if (sample.Backplane) hybrid.AddEdgeCacheInvalidation(builder.Configuration.GetSection("EdgeCacheInvalidation"));
        services.AddSingleton<Catalogue>();
        services.AddSingleton<CatalogueInvalidation>();
        services.AddProblemDetails();
        builder.WebHost.UseUrls(sample.Listen);

        var app = builder.Build();
        app.MapGet("/products", ListAsync);
        app.MapGet("/products/{id:int}", ProductAsync);
        app.MapPut("/products/{id:int}", UpdateAsync);
        return app;
    }

    private static HybridCacheEntryOptions Entry(SamplePublisherOptions o) => new() { Expiration = o.LookupExpiration, LocalCacheExpiration = o.LookupExpiration };

    private static async Task ProductAsync(HttpContext ctx, int id, HybridCache cache, Catalogue catalogue, IOptions<SamplePublisherOptions> options)
    {
        var fromDatabase = false;
        var product = await cache.GetOrCreateAsync(
            $"product:{id}",
            async ct =>
            {
                fromDatabase = true;
                return await catalogue.FindAsync(id, ct).ConfigureAwait(false);
            },
            Entry(options.Value),
            tags: [ProductTag(id), "products"],
            cancellationToken: ctx.RequestAborted).ConfigureAwait(false);
        if (product is null)
        {
            ctx.Response.StatusCode = StatusCodes.Status404NotFound;
            ctx.Response.Headers.CacheControl = "no-store";
            await ctx.Response.WriteAsync($"No product {id}.\n").ConfigureAwait(false);
            return;
        }

        var html = HtmlEncoder.Default;
        await PageAsync(ctx, options.Value, fromDatabase, $"{ProductTag(id)} products", $"<h1>{html.Encode(product.Name)}</h1>\n<p>Price: {product.Price.ToString("0.00", CultureInfo.InvariantCulture)}</p>\n").ConfigureAwait(false);
    }

    private static async Task ListAsync(HttpContext ctx, HybridCache cache, Catalogue catalogue, IOptions<SamplePublisherOptions> options)
    {
        var fromDatabase = false;
        var products = await cache.GetOrCreateAsync(
            "products",
            async ct =>
            {
                fromDatabase = true;
                return await catalogue.ListAsync(ct).ConfigureAwait(false);
            },
            Entry(options.Value),
            tags: ["products"],
            cancellationToken: ctx.RequestAborted).ConfigureAwait(false);
        var html = HtmlEncoder.Default;
        var body = new StringBuilder("<h1>Products</h1>\n<ul>\n");
        foreach (var p in products) body.Append(CultureInfo.InvariantCulture, $"<li><a href=\"/products/{p.Id}\">{html.Encode(p.Name)}</a>: {p.Price.ToString("0.00", CultureInfo.InvariantCulture)}</li>\n");
        body.Append("</ul>\n");
        await PageAsync(ctx, options.Value, fromDatabase, "products", body.ToString()).ConfigureAwait(false);
    }

    private static Task PageAsync(HttpContext ctx, SamplePublisherOptions o, bool fromDatabase, string tags, string body)
    {
        var headers = ctx.Response.Headers;
        headers.CacheControl = "public, max-age=" + ((long)o.PageMaxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        headers[SurrogateKey] = tags;
        headers[LookupHeader] = fromDatabase ? "database" : "hybridcache";
        ctx.Response.ContentType = "text/html; charset=utf-8";
        return ctx.Response.WriteAsync("<!doctype html>\n" + body);
    }

    /// <summary>The tag of one product's pages and cache entries.</summary>
    public static string ProductTag(int id) => "product-" + id.ToString(CultureInfo.InvariantCulture);

    /// <summary>The body of <c>PUT /products/{id}</c>.</summary>
    public sealed record ProductUpdate(string? Name, decimal? Price);

    private static async Task<IResult> UpdateAsync(int id, ProductUpdate? update, Catalogue catalogue, CatalogueInvalidation invalidation, CancellationToken cancellationToken)
    {
        if (update is not { Name: { Length: > 0 and <= 200 } name, Price: { } price } || price < 0)
        {
            return Results.Problem(statusCode: 400, title: "Invalid product", detail: "Send {\"name\": \"1 to 200 characters\", \"price\": a number of at least 0}.");
        }

        if (!await catalogue.UpdateAsync(new Product(id, name, price), cancellationToken).ConfigureAwait(false))
        {
            return Results.Problem(statusCode: 404, title: "Unknown product", detail: $"There is no product {id}.");
        }

        try
        {
            var purge = await invalidation.InvalidateAsync([ProductTag(id), "products"], cancellationToken).ConfigureAwait(false);
            return Results.Ok(new { id, purge = new { purge.Id, purge.Sequence, purge.Complete, purge.Missing, instances = purge.InstancesAcked.Count, purge.InstancesMissing } });
        }
        catch (Exception ex) when (ex is EdgeCacheApiException or HttpRequestException or TimeoutException)
        {
            // Saved, and this instance's cache cleared; the CDN may still serve the old pages until they expire.
            return Results.Problem(statusCode: (int)HttpStatusCode.BadGateway, title: "Saved, but the CDN purge failed", detail: ex.Message);
        }
    }

    private sealed class Validator : IValidateOptions<SamplePublisherOptions>
    {
        public ValidateOptionsResult Validate(string? name, SamplePublisherOptions options)
        {
            var errors = options.Validate().ToList();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
