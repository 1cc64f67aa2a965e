from alpine:3.20 as Builder
From builder
fRoM BUILDER AS other
copy --from=Other /a /b
