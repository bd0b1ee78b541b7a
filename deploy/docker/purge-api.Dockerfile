# syntax=docker/dockerfile:1
# EdgeCache purge API: build with the .NET 10 SDK, run on the ASP.NET Core runtime as a non-root user.
# Build from the repository root: docker build -f deploy/docker/purge-api.Dockerfile -t edgecache/purge-api .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
# The host is thin: the API (libs/EdgeCache.PurgeApi) and the NATS client (libs/EdgeCache.Nats) live in libs/.
COPY libs/ libs/
COPY invalidation/EdgeCache.Invalidation/ invalidation/EdgeCache.Invalidation/
RUN dotnet publish invalidation/EdgeCache.Invalidation/EdgeCache.Invalidation.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
# The API binds PurgeApi:Listen (its Kestrel setup ignores ASPNETCORE_URLS); keys (PurgeApi:Keys:N:*)
# and PurgeApi:Nats:NatsUrl come from the deployment. The workstation GC of its project file stays: the
# API allocates little, and every purge it holds waits out a collection's pause.
ENV PurgeApi__Listen=http://0.0.0.0:8080 \
    DOTNET_NOLOGO=1
USER app
EXPOSE 8080
ENTRYPOINT ["dotnet", "EdgeCache.Invalidation.dll"]
